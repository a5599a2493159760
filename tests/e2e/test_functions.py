"""A PackageRevision's pipeline rendered through every kind of function runtime.

The operator runs builtin catalog functions in process, images mapped to local
executables (``--exec``), and everything else through a function runner over gRPC
(``--function-runner``, here a real ``lanai function-runner`` process).
"""

from __future__ import annotations

import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lanai.local import processes
from tests.support.cluster import Cluster
from tests.support.operator import OperatorProcess
from tests.support.team import REPO, Team, edit, init_spec
from tests.support.waiting import wait_for

# A KRM function as a script: annotates every resource with who rendered it.
ANNOTATE = """#!{python}
import sys
from ruamel.yaml import YAML
yaml = YAML()
resource_list = yaml.load(sys.stdin)
for item in resource_list.get("items") or []:
    metadata = item.setdefault("metadata", {{}})
    metadata.setdefault("annotations", {{}})["rendered-by"] = "{who}"
yaml.dump(resource_list, sys.stdout)
"""

EXEC_IMAGE = "example.com/fns/annotate-exec:v1"
GRPC_IMAGE = "example.com/fns/annotate-grpc:v1"


def _script(path: Path, who: str) -> Path:
    path.write_text(ANNOTATE.format(python=sys.executable, who=who))
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


@pytest.fixture
def function_operator(
    cluster: Cluster, operator: OperatorProcess, tmp_path: Path
) -> Iterator[OperatorProcess]:
    """An operator with an exec mapping and a function runner, instead of the session's."""
    port = processes.free_port()
    runner = processes.spawn(
        [
            sys.executable, "-m", "lanai", "function-runner", "--host", "127.0.0.1",
            "--port", str(port), "--exec", f"{GRPC_IMAGE}={_script(tmp_path / 'g', 'grpc')}",
        ],
        tmp_path / "runner.log",
    )  # fmt: skip
    operator.stop()
    configured = OperatorProcess(
        cluster.kubeconfig,
        tmp_path / "operator",
        extra_args=[
            "--exec", f"{EXEC_IMAGE}={_script(tmp_path / 'e', 'exec')}",
            "--function-runner", f"127.0.0.1:{port}",
        ],
    ).start()  # fmt: skip
    try:
        yield configured
    finally:
        configured.stop()
        processes.stop(runner)
        operator.start()


PIPELINE = """pipeline:
  mutators:
  - image: set-labels:v0.2.0
    configMap:
      app: web
  - image: {exec_image}
  - image: {grpc_image}
"""


def test_a_pipeline_renders_through_builtin_exec_and_grpc_runtimes(
    function_operator: OperatorProcess,
    team: Team,
) -> None:
    name = f"{REPO}.fns.v1"
    team.create(name, init_spec("fns", "v1"))
    team.settled(name)
    resources = wait_for(lambda: team.get(name, "prr"), what="the resources object")
    kptfile = resources["spec"]["resources"]["Kptfile"]
    kptfile += PIPELINE.format(exec_image=EXEC_IMAGE, grpc_image=GRPC_IMAGE)
    edit(
        team,
        name,
        {
            "Kptfile": kptfile,
            "cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n",
        },
    )
    rendered = team.show("refs/heads/drafts/fns/v1", "fns/cm.yaml")
    assert "app: web" in rendered  # builtin set-labels
    assert "rendered-by: grpc" in rendered  # the last function, through the runner
    prr = team.get(name, "prr") or {}
    steps = prr["status"]["renderStatus"]["result"]["items"]
    assert [s["image"] for s in steps][-2:] == [EXEC_IMAGE, GRPC_IMAGE]
    assert all(s.get("exitCode", 0) == 0 for s in steps)


def test_an_unknown_image_is_a_clear_render_error(
    function_operator: OperatorProcess,
    team: Team,
) -> None:
    name = f"{REPO}.nofn.v1"
    team.create(name, init_spec("nofn", "v1"))
    team.settled(name)
    before = team.refs()["refs/heads/drafts/nofn/v1"]
    kptfile = (team.get(name, "prr") or {})["spec"]["resources"]["Kptfile"]
    edit(team, name, {"Kptfile": kptfile + "pipeline:\n  mutators:\n  - image: nope.io/x:v1\n"})
    prr = team.get(name, "prr") or {}
    rendered = next(c for c in prr["status"]["conditions"] if c["type"] == "Rendered")
    assert rendered["status"] == "False"
    assert "nope.io/x:v1" in rendered["message"]
    assert team.refs()["refs/heads/drafts/nofn/v1"] == before
