from __future__ import annotations

import sys
import textwrap
import threading
from pathlib import Path

import pytest
from ruamel.yaml.comments import CommentedMap

from lanai.functions import builtin_runtime, chain, exec_runtime
from lanai.kpt import fnapi
from tests.unit.functions import fncase, yamlkit

CONFIG = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {namespace: prod}"
ITEMS = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a # comment\n"


def resource_list() -> CommentedMap:
    return yamlkit.resource_list(ITEMS, CONFIG)


# -- builtin ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "image",
    [
        "set-namespace",
        "set-namespace:v0.4.1",
        "gcr.io/kpt-fn/set-namespace:v0.4.1",
        "ghcr.io/kptdev/krm-functions-catalog/set-namespace:v0.4.1",
    ],
)
def test_builtin_runs_catalog_images(image: str) -> None:
    output = builtin_runtime.BuiltinRuntime().evaluate(
        fnapi.FunctionRef(image=image), resource_list()
    )
    assert output.exit_code == 0
    assert output.resource_list["items"][0]["metadata"]["namespace"] == "prod"
    assert "# comment" in yamlkit.dump_items(output.resource_list)


@pytest.mark.parametrize(
    "ref",
    [
        fnapi.FunctionRef(image="example.com/me/set-namespace:v1"),
        fnapi.FunctionRef(image="gcr.io/kpt-fn/kubeconform:v0.1"),
        fnapi.FunctionRef(exec="./set-namespace"),
    ],
)
def test_builtin_unknown_is_not_found(ref: fnapi.FunctionRef) -> None:
    with pytest.raises(fnapi.FunctionNotFound, match=ref.display):
        builtin_runtime.BuiltinRuntime().evaluate(ref, resource_list())


def test_builtin_function_error_carries_results() -> None:
    failing = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: f\ndata:\n  source: fail('no')\n"
    rl = yamlkit.resource_list(ITEMS, failing)
    with pytest.raises(fnapi.FunctionError) as caught:
        builtin_runtime.BuiltinRuntime().evaluate(fnapi.FunctionRef(image="starlark"), rl)
    assert not isinstance(caught.value, fnapi.FunctionNotFound)
    assert caught.value.results[0]["severity"] == "error"


def test_builtin_bug_becomes_function_error() -> None:
    def broken(_: CommentedMap) -> None:
        raise KeyError("x")

    runtime = builtin_runtime.BuiltinRuntime({"broken": broken})
    with pytest.raises(fnapi.FunctionError, match="KeyError"):
        runtime.evaluate(fnapi.FunctionRef(image="broken"), resource_list())


def test_builtin_is_thread_safe() -> None:
    runtime = builtin_runtime.BuiltinRuntime()
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(20):
                out = runtime.evaluate(fnapi.FunctionRef(image="set-namespace"), resource_list())
                assert out.resource_list["items"][0]["metadata"]["namespace"] == "prod"
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


# -- exec ------------------------------------------------------------------------------


def script(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(f"#!{sys.executable}\n" + textwrap.dedent(body))
    path.chmod(0o755)
    return path


ECHO = """\
import sys
data = sys.stdin.read()
sys.stderr.write("hello from fn\\n")
sys.stdout.write(data.replace("name: a", "name: b"))
"""


def test_exec_success_by_image_and_exec_path(tmp_path: Path) -> None:
    path = script(tmp_path, "echo-fn", ECHO)
    runtime = exec_runtime.ExecRuntime({"example.com/fns/echo:v1": path})
    output = runtime.evaluate(fnapi.FunctionRef(image="example.com/fns/echo:v1"), resource_list())
    assert output.resource_list["items"][0]["metadata"]["name"] == "b"
    assert output.stderr == "hello from fn\n"
    assert "# comment" in yamlkit.dump_items(output.resource_list)
    output = runtime.evaluate(fnapi.FunctionRef(exec=str(path)), resource_list())
    assert output.resource_list["items"][0]["metadata"]["name"] == "b"


def test_exec_untagged_mapping_matches_any_tag(tmp_path: Path) -> None:
    path = script(tmp_path, "echo-fn", ECHO)
    runtime = exec_runtime.ExecRuntime({"gcr.io/kpt-fn/echo": path})
    out = runtime.evaluate(fnapi.FunctionRef(image="gcr.io/kpt-fn/echo:v9"), resource_list())
    assert out.exit_code == 0
    with pytest.raises(fnapi.FunctionNotFound, match=r"gcr\.io/kpt-fn/other"):
        runtime.evaluate(fnapi.FunctionRef(image="gcr.io/kpt-fn/other"), resource_list())


def test_exec_disabled_exec_paths_are_not_found(tmp_path: Path) -> None:
    path = script(tmp_path, "echo-fn", ECHO)
    runtime = exec_runtime.ExecRuntime(allow_exec=False)
    with pytest.raises(fnapi.FunctionNotFound):
        runtime.evaluate(fnapi.FunctionRef(exec=str(path)), resource_list())


def test_exec_non_zero_exit_reports_stderr_and_results(tmp_path: Path) -> None:
    path = script(
        tmp_path,
        "validator",
        """\
        import sys
        sys.stdin.read()
        print("apiVersion: config.kubernetes.io/v1")
        print("kind: ResourceList")
        print("items: []")
        print("results:")
        print("- message: replicas must be positive")
        print("  severity: error")
        sys.stderr.write("validation failed\\n")
        sys.exit(1)
        """,
    )
    runtime = exec_runtime.ExecRuntime()
    with pytest.raises(fnapi.FunctionError) as caught:
        runtime.evaluate(fnapi.FunctionRef(exec=str(path)), resource_list())
    error = caught.value
    assert error.exit_code == 1
    assert "validation failed" in error.message
    assert error.stderr == "validation failed\n"
    assert error.results == [{"message": "replicas must be positive", "severity": "error"}]


def test_exec_hang_is_killed(tmp_path: Path) -> None:
    path = script(tmp_path, "hang", "import time\ntime.sleep(60)\n")
    runtime = exec_runtime.ExecRuntime(timeout=0.5)
    with pytest.raises(fnapi.FunctionError, match=r"exceeded its 0.5 s time limit"):
        runtime.evaluate(fnapi.FunctionRef(exec=str(path)), resource_list())


@pytest.mark.parametrize(
    "body",
    [
        "import sys\nsys.stdin.read()\nprint('this is: [not krm')\n",
        "import sys\nsys.stdin.read()\nprint('kind: Deployment')\n",
        "import sys\nsys.stdin.read()\n",
    ],
)
def test_exec_garbage_output(tmp_path: Path, body: str) -> None:
    path = script(tmp_path, "garbage", body)
    with pytest.raises(fnapi.FunctionError, match="did not write a ResourceList"):
        exec_runtime.ExecRuntime().evaluate(fnapi.FunctionRef(exec=str(path)), resource_list())


def test_exec_output_limit(tmp_path: Path) -> None:
    path = script(tmp_path, "flood", "import sys\nsys.stdout.write('x' * 10_000_000)\n")
    runtime = exec_runtime.ExecRuntime(max_output=1000)
    with pytest.raises(fnapi.FunctionError, match="more than 1000 bytes"):
        runtime.evaluate(fnapi.FunctionRef(exec=str(path)), resource_list())


def test_exec_missing_binary(tmp_path: Path) -> None:
    runtime = exec_runtime.ExecRuntime()
    with pytest.raises(fnapi.FunctionError, match="cannot start"):
        runtime.evaluate(fnapi.FunctionRef(exec=str(tmp_path / "nope")), resource_list())


def test_executable_map(tmp_path: Path) -> None:
    path = script(tmp_path, "echo", ECHO)
    (tmp_path / "README").write_text("not executable")
    mapping = exec_runtime.executable_map(tmp_path)
    assert mapping == {"ghcr.io/kptdev/krm-functions-catalog/echo": str(path)}
    out = exec_runtime.ExecRuntime(mapping).evaluate(
        fnapi.FunctionRef(image="echo:v1"), resource_list()
    )
    assert out.resource_list["items"][0]["metadata"]["name"] == "b"


# -- chain -----------------------------------------------------------------------------


class Recorder:
    def __init__(self, known: set[str], fail: bool = False) -> None:
        self.known = known
        self.fail = fail
        self.calls: list[str] = []

    def evaluate(self, fn: fnapi.FunctionRef, resource_list: CommentedMap) -> fnapi.FunctionOutput:
        self.calls.append(fn.display)
        if fn.display not in self.known:
            raise fnapi.FunctionNotFound(message=f"unknown {fn.display}")
        if self.fail:
            raise fnapi.FunctionError(message="boom")
        return fnapi.FunctionOutput(resource_list=resource_list, stderr=type(self).__name__)


def test_chain_falls_through_not_found_only() -> None:
    first, second = Recorder({"a"}), Recorder({"a", "b"})
    runtime = chain.ChainRuntime([first, second])
    runtime.evaluate(fnapi.FunctionRef(image="b"), resource_list())
    assert (first.calls, second.calls) == (["b"], ["b"])
    runtime.evaluate(fnapi.FunctionRef(image="a"), resource_list())
    assert second.calls == ["b"]


def test_chain_does_not_retry_failures() -> None:
    first, second = Recorder({"a"}, fail=True), Recorder({"a"})
    with pytest.raises(fnapi.FunctionError, match="boom"):
        chain.ChainRuntime([first, second]).evaluate(fnapi.FunctionRef(image="a"), resource_list())
    assert second.calls == []


def test_chain_none_knows_it() -> None:
    runtime = chain.ChainRuntime([Recorder(set()), builtin_runtime.BuiltinRuntime()])
    with pytest.raises(fnapi.FunctionNotFound, match=r"no runtime can run function x\.io/y:z"):
        runtime.evaluate(fnapi.FunctionRef(image="x.io/y:z"), resource_list())


def test_chain_builtin_then_exec(tmp_path: Path) -> None:
    path = script(tmp_path, "echo-fn", ECHO)
    runtime = chain.ChainRuntime(
        [builtin_runtime.BuiltinRuntime(), exec_runtime.ExecRuntime({"x.io/echo:v1": path})]
    )
    out = runtime.evaluate(fnapi.FunctionRef(image="x.io/echo:v1"), resource_list())
    assert out.resource_list["items"][0]["metadata"]["name"] == "b"
    out = runtime.evaluate(fnapi.FunctionRef(image="set-namespace"), resource_list())
    assert out.resource_list["items"][0]["metadata"]["namespace"] == "prod"


def test_builtin_runtime_runs_an_image_whose_tag_is_a_version_constraint() -> None:
    rl = fncase.resource_list(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: m}\n",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: function-input}\n"
        "data: {namespace: ns}\n",
    )
    catalog = "ghcr.io/kptdev/krm-functions-catalog/set-namespace"
    runtime = builtin_runtime.BuiltinRuntime()
    runtime.evaluate(fnapi.FunctionRef(image=f"{catalog}:0.4.1 - 0.4.3"), rl)
    assert rl["items"][0]["metadata"]["namespace"] == "ns"
    assert runtime.resolve_image(catalog, "0.4.1 - 0.4.3") == f"{catalog}:v0.4.3"
    with pytest.raises(fnapi.FunctionError, match="no tag could be found"):
        runtime.evaluate(fnapi.FunctionRef(image=f"{catalog}:~9"), rl)


def test_the_chain_resolves_kptfile_tags_as_kpt() -> None:
    runtime = chain.ChainRuntime([builtin_runtime.BuiltinRuntime()])
    catalog = "ghcr.io/kptdev/krm-functions-catalog/set-labels"
    assert runtime.resolve_image(catalog, "~0.2") == f"{catalog}:v0.2.5"
    assert runtime.resolve_image(f"{catalog}:v0.1", None) == f"{catalog}:v0.1"
