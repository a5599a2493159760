"""``lanai fn render`` / ``fn eval`` / ``function-runner`` as a user runs them: subprocesses."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from lanai import cli

KPTFILE = """\
apiVersion: kpt.dev/v1
kind: Kptfile
metadata:
  name: app
pipeline:
  mutators:
    - image: set-namespace:v0.4.1
      configMap:
        namespace: prod
    - image: ghcr.io/kptdev/krm-functions-catalog/set-labels:v0.2.0
      configMap:
        tier: web
"""
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web # the front end
spec:
  template:
    spec:
      containers:
        - name: web
          image: nginx
"""
FAILING_KPTFILE = KPTFILE.replace(
    "        tier: web\n",
    "        tier: web\n    - image: example.com/fns/no-such-function:v1\n",
)


ANNOTATE = """\
import sys
from ruamel.yaml import YAML

from lanai import cli
yaml = YAML()
resource_list = yaml.load(sys.stdin)
for item in resource_list["items"]:
    if item["kind"] == "Deployment":
        item["metadata"].setdefault("annotations", {})["by"] = "runner"
yaml.dump(resource_list, sys.stdout)
"""


def lanai(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lanai", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def package(tmp_path: Path, kptfile: str = KPTFILE) -> Path:
    directory = tmp_path / "app"
    directory.mkdir()
    (directory / "Kptfile").write_text(kptfile)
    (directory / "deployment.yaml").write_text(DEPLOYMENT)
    (directory / "README.md").write_text("not KRM\n")
    return directory


def snapshot(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes() for p in directory.rglob("*") if p.is_file()
    }


def test_render_writes_the_pipeline_output(tmp_path: Path) -> None:
    directory = package(tmp_path)
    done = lanai("fn", "render", str(directory), "--results-dir", str(tmp_path / "results"))
    assert done.returncode == 0, done.stderr
    assert "[PASS]" in done.stderr  # kpt's progress goes to stderr
    assert "Successfully executed 2 function(s) in 1 package(s)." in done.stderr
    deployment = YAML().load((directory / "deployment.yaml").read_text())
    assert deployment["metadata"]["namespace"] == "prod"
    assert deployment["metadata"]["labels"] == {"tier": "web"}
    assert deployment["spec"]["template"]["metadata"]["labels"] == {"tier": "web"}
    assert "# the front end" in (directory / "deployment.yaml").read_text()
    kptfile = YAML().load((directory / "Kptfile").read_text())
    assert kptfile["status"]["conditions"][0]["reason"] == "RenderSuccess"
    assert (directory / "README.md").read_text() == "not KRM\n"
    results = YAML().load((tmp_path / "results" / "results.yaml").read_text())
    assert results["kind"] == "FunctionResultList"
    assert len(results["items"]) == 2
    again = snapshot(directory)
    assert cli.main(["fn", "render", str(directory)]) == 0
    # idempotent, but for the Kptfile's record of what the functions reported this time
    assert {k: v for k, v in snapshot(directory).items() if k != "Kptfile"} == {
        k: v for k, v in again.items() if k != "Kptfile"
    }


def test_failing_render_leaves_the_directory_unchanged(tmp_path: Path) -> None:
    directory = package(tmp_path, FAILING_KPTFILE)
    before = snapshot(directory)
    done = lanai("fn", "render", str(directory))
    assert done.returncode == 1
    assert "Error: no runtime can run function" in done.stderr
    assert "example.com/fns/no-such-function:v1" in done.stderr
    after = snapshot(directory)
    # kpt records the failure in the Kptfile's status and changes nothing else
    assert {k: v for k, v in after.items() if k != "Kptfile"} == {
        k: v for k, v in before.items() if k != "Kptfile"
    }
    assert b"RenderFailed" in after["Kptfile"]


def test_bad_flags_are_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    directory = package(tmp_path)
    assert cli.main(["fn", "render", str(directory), "--exec", "no-equals-sign"]) == 2
    assert "IMAGE=PATH" in capsys.readouterr().err
    assert cli.main(["fn", "render", str(tmp_path / "missing")]) == 2
    with pytest.raises(SystemExit):
        cli.main(["fn", "render", str(directory), "--", "x=y"])


def test_eval_runs_one_function(tmp_path: Path) -> None:
    directory = package(tmp_path)
    args = [
        "fn",
        "eval",
        str(directory),
        "--image",
        "set-namespace:v0.4.1",
        "--",
        "namespace=staging",
    ]
    assert cli.main(args) == 0
    deployment = YAML().load((directory / "deployment.yaml").read_text())
    assert deployment["metadata"]["namespace"] == "staging"
    assert "namespace" not in YAML().load((directory / "Kptfile").read_text())["metadata"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def runner(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A ``lanai function-runner`` process that runs one extra image as an executable."""
    fn = tmp_path / "add-annotation"
    fn.write_text(f"#!{sys.executable}\n{ANNOTATE}")
    fn.chmod(0o755)
    port, metrics = _free_port(), _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lanai",
            "function-runner",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--exec",
            f"example.com/fns/annotate={fn}",
            "--metrics-address",
            f"127.0.0.1:{metrics}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield f"127.0.0.1:{port}", f"http://127.0.0.1:{metrics}/metrics"
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0


def test_render_through_the_function_runner(tmp_path: Path, runner: tuple[str, str]) -> None:
    address, metrics = runner
    directory = package(tmp_path, KPTFILE + "    - image: example.com/fns/annotate:v1\n")
    done = lanai("fn", "render", str(directory), "--function-runner", address)
    assert done.returncode == 0, done.stderr
    deployment = YAML().load((directory / "deployment.yaml").read_text())
    assert deployment["metadata"]["annotations"] == {"by": "runner"}
    assert deployment["metadata"]["namespace"] == "prod"
    with urllib.request.urlopen(metrics, timeout=5) as response:  # noqa: S310
        exposed = response.read().decode()
    assert 'lanai_function_evaluations_total{function="example.com/fns/annotate:v1"' in exposed


PIPED = """\
apiVersion: config.kubernetes.io/v1
kind: ResourceList
items:
- apiVersion: v1
  kind: ConfigMap
  metadata:
    name: {name}
    annotations:
      config.kubernetes.io/path: '{path}'
      internal.config.kubernetes.io/path: '{path}'
"""


def piped_eval(stdin: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lanai", "fn", "eval", "-", "-i", "set-labels", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_eval_from_stdin_writes_the_list_back_to_stdout() -> None:
    done = piped_eval(PIPED.format(name="web", path="cm.yaml"), "--", "tier=web")
    assert done.returncode == 0, done.stderr
    # kpt names --image as given, with the catalog's prefix (no tag added)
    assert '[PASS] "ghcr.io/kptdev/krm-functions-catalog/set-labels"' in done.stderr
    listed = YAML(typ="safe").load(done.stdout)
    assert listed["kind"] == "ResourceList"
    assert listed["items"][0]["metadata"]["labels"] == {"tier": "web"}


def test_eval_to_a_directory_writes_only_inside_it(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = piped_eval(PIPED.format(name="web", path="/etc/cm.yaml"), "-o", str(out), "--", "a=b")
    assert done.returncode == 0, done.stderr
    assert [p.relative_to(out).as_posix() for p in out.rglob("*.yaml")] == ["etc/cm.yaml"]
    escaping = PIPED.format(name="web", path="../escape.yaml")
    done = piped_eval(escaping, "-o", str(tmp_path / "again"), "--", "a=b")
    assert done.returncode == 1
    assert "outside the output directory" in done.stderr
    assert not (tmp_path / "escape.yaml").exists()


def test_eval_refuses_an_output_directory_that_exists(tmp_path: Path) -> None:
    done = piped_eval(PIPED.format(name="web", path="cm.yaml"), "-o", str(tmp_path))
    assert done.returncode == 1
    assert "already exists, please delete the directory and retry" in done.stderr


def test_a_failing_function_from_stdin_is_reported_as_kpt_reports_it() -> None:
    done = piped_eval(PIPED.format(name="web", path="cm.yaml"))  # set-labels needs a config
    assert done.returncode == 1
    took = re.sub(r" in [0-9.]+m?s\n", " in 0s\n", done.stderr)  # however busy the machine
    assert took.endswith(
        '[FAIL] "ghcr.io/kptdev/krm-functions-catalog/set-labels" in 0s\n'
        "[Results]: [info]: `FunctionConfig` is not given\n"
        " Stderr: failed to evaluate function: error: function failure"
        "  Exit code: 1\n\n"
    )
    assert done.stdout == ""
