"""Functions in a box: real worker processes, real memory bombs, real deadlines."""

from __future__ import annotations

import os
import pickle
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import prometheus_client
import pytest
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from lanai.functions import runtimes
from lanai.functions.box import frames, pool
from lanai.kpt import fnapi, render
from lanai.trust import limits
from tests.support import pipelines
from tests.support.pipelines import STARLARK_IMAGE

MEMORY = 64 * limits.MIB
SETTINGS = runtimes.Settings(memory=MEMORY, timeout=30.0)


@pytest.fixture(scope="module")
def box() -> Iterator[pool.Box]:
    with pool.Box(SETTINGS, workers=1) as shared:
        shared.start(1)
        yield shared


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def _cpu(pid: int) -> float:
    """CPU seconds ``pid`` has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _renders_normally(box: pool.Box) -> None:
    files = pipelines.as_bytes(pipelines.starlark_package(pipelines.HARMLESS, labels=True))
    result = box.render(files)
    assert result.ok, result.error
    assert b"app: web" in result.tree["cm.yaml"]


def _settled(box: pool.Box) -> list[int]:
    """The pool's workers once a failure's replacement has been started."""
    deadline = time.monotonic() + 30
    while not box.pids() and time.monotonic() < deadline:
        time.sleep(0.01)
    return box.pids()


# -- memory --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source", [pipelines.DOUBLING, pipelines.HUGE_LIST], ids=["doubling", "list"]
)
def test_a_memory_bomb_fails_the_render_and_the_box_recovers(box: pool.Box, source: str) -> None:
    _renders_normally(box)  # a worker is ready
    before = box.pids()
    mine = _rss(os.getpid())
    files = pipelines.as_bytes(pipelines.starlark_package(source))
    result = box.render(files)
    assert not result.ok
    assert result.error == (
        f"{render.ERROR_PREFIX}: root package: function {STARLARK_IMAGE} exceeded its 64 MiB "
        "memory limit"
    )
    # nothing half-rendered: only the Kptfile's status records the failure, as in kpt
    assert {k: v for k, v in result.tree.items() if k != "Kptfile"} == {
        k: v for k, v in files.items() if k != "Kptfile"
    }
    assert result.results["items"][-1]["exitCode"] == 1
    assert _rss(os.getpid()) - mine < 16 * limits.MIB  # the bomb went off elsewhere
    assert _settled(box) != before  # the spent worker was replaced
    _renders_normally(box)


def test_the_memory_limit_names_the_step_that_broke_it(box: pool.Box) -> None:
    files = pipelines.starlark_package(pipelines.HARMLESS)
    sub = pipelines.starlark_package(pipelines.DOUBLING, name="sub", labels=True)
    files.update({f"sub/{path}": text for path, text in sub.items()})
    result = box.render(pipelines.as_bytes(files))
    assert not result.ok
    assert f"package 'sub': function {STARLARK_IMAGE} exceeded its 64 MiB" in result.error
    assert [item.get("image") for item in result.results["items"]] == [
        pipelines.SET_LABELS_IMAGE,
        STARLARK_IMAGE,
    ]
    assert [item["exitCode"] for item in result.results["items"]] == [0, 1]


# -- time ----------------------------------------------------------------------------------


def test_an_endless_starlark_loop_stops_at_the_time_limit() -> None:
    with pool.Box(runtimes.Settings(timeout=1.0), workers=1) as box:
        started = time.monotonic()
        result = box.render(pipelines.as_bytes(pipelines.starlark_package(pipelines.ENDLESS)))
        took = time.monotonic() - started
        assert not result.ok
        assert f"function {STARLARK_IMAGE} exceeded its 1 s time limit" in result.error
        assert took < 60
        _renders_normally(box)


REDOS = """\
apiVersion: kpt.dev/v1
kind: Kptfile
metadata:
  name: redos
pipeline:
  mutators:
  - image: ghcr.io/kptdev/krm-functions-catalog/search-replace:v0.2.0
    configMap:
      by-value-regex: (a+)+$
      put-value: gotcha
"""


def test_a_function_that_ignores_its_deadline_is_killed() -> None:
    """Python's regex engine cannot be interrupted: only killing the worker stops it."""
    files = {
        "Kptfile": REDOS.encode(),
        "cm.yaml": f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n"
        f"  value: {'a' * 40}b\n".encode(),
    }
    with pool.Box(runtimes.Settings(timeout=1.0), workers=1) as box:
        _renders_normally(box)
        worker = box.pids()[0]
        result = box.render(files)
        assert not result.ok
        assert result.error == (
            f"{render.ERROR_PREFIX}: root package: function "
            "ghcr.io/kptdev/krm-functions-catalog/search-replace:v0.2.0 exceeded its 1 s time "
            "limit"
        )
        assert not _alive(worker)
        _renders_normally(box)


# -- deaths --------------------------------------------------------------------------------


def _kill_during(box: pool.Box, sig: signal.Signals) -> render.RenderResult:
    """Render an endless loop and send ``sig`` to the worker while it runs."""
    _renders_normally(box)
    worker = box.pids()[0]
    files = pipelines.as_bytes(pipelines.starlark_package(pipelines.ENDLESS))
    outcome: list[render.RenderResult] = []
    used = _cpu(worker)
    thread = threading.Thread(target=lambda: outcome.append(box.render(files)))
    thread.start()
    # The loop runs once the worker has spent CPU well beyond what reading the job takes.
    deadline = time.monotonic() + 60
    while _cpu(worker) - used < 0.3 and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(worker, sig)
    thread.join(60)
    assert outcome
    return outcome[0]


def test_a_crashing_worker_is_a_clear_render_failure() -> None:
    with pool.Box(runtimes.Settings(timeout=30.0), workers=1) as box:
        result = _kill_during(box, signal.SIGSEGV)
        assert not result.ok
        assert result.error.endswith(
            f"function {STARLARK_IMAGE} crashed (stopped by signal SIGSEGV)"
        )
        _renders_normally(box)


def test_a_worker_the_kernel_kills_counts_as_out_of_memory() -> None:
    """The OOM killer is the only other sender of SIGKILL (oom_score_adj makes it pick a
    worker first)."""
    with pool.Box(runtimes.Settings(timeout=30.0, memory=MEMORY), workers=1) as box:
        result = _kill_during(box, signal.SIGKILL)
        assert not result.ok
        assert f"function {STARLARK_IMAGE} exceeded its 64 MiB memory limit" in result.error
        _renders_normally(box)


def test_a_worker_that_died_while_idle_is_replaced_without_failing_the_render() -> None:
    with pool.Box(SETTINGS, workers=1) as box:
        _renders_normally(box)
        (worker,) = box.pids()
        os.kill(worker, signal.SIGKILL)
        while _alive(worker):
            time.sleep(0.01)
        _renders_normally(box)
        assert box.pids() != [worker]


def test_workers_are_confined() -> None:
    with pool.Box(SETTINGS, workers=1) as box:
        _renders_normally(box)
        (worker,) = box.pids()
        assert Path(f"/proc/{worker}/oom_score_adj").read_text().strip() == "1000"
        status = Path(f"/proc/{worker}/status").read_text()
        environ = Path(f"/proc/{worker}/environ").read_bytes().split(b"\0")
        assert b"MALLOC_ARENA_MAX=2" in environ or "MALLOC_ARENA_MAX" in os.environ
        assert "Threads:\t2" in status  # the main thread and the one watching the parent
        box.close()
        assert not _alive(worker)


def test_a_worker_exits_when_its_parent_dies(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import os, sys
        from lanai.functions import runtimes
        from lanai.functions.box import pool
        from tests.support import pipelines
        box = pool.Box(runtimes.Settings(), workers=1)
        files = pipelines.starlark_package(pipelines.HARMLESS)
        assert box.render(pipelines.as_bytes(files)).ok
        print(box.pids()[0], flush=True)
        os._exit(0)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    worker = int(done.stdout.strip())
    deadline = time.monotonic() + 30
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(worker)


# -- exec functions ------------------------------------------------------------------------


def _script(path: Path, body: str) -> Path:
    path.write_text(f"#!{sys.executable}\n{body}")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def _exec_package(image: str) -> dict[str, bytes]:
    return {
        "Kptfile": pipelines.kptfile("ex", f"  - image: {image}\n").encode(),
        "cm.yaml": pipelines.CONFIGMAP.encode(),
    }


def test_an_exec_function_has_its_own_memory_limit(tmp_path: Path) -> None:
    hog = _script(tmp_path / "hog", "import sys\nsys.stdin.read()\nx = bytearray(200 << 20)\n")
    image = "example.com/fns/hog:v1"
    settings = runtimes.Settings(executables={image: str(hog)}, memory=MEMORY)
    with pool.Box(settings, workers=1) as box:
        result = box.render(_exec_package(image))
        assert not result.ok
        assert result.error.endswith(f"function {image} exceeded its 64 MiB memory limit")
        _renders_normally(box)


def _sleeper(tmp_path: Path) -> tuple[str, Path, Path]:
    pidfile = tmp_path / "pid"
    sleeper = _script(
        tmp_path / "sleeper",
        f"import os, time\nopen({str(pidfile)!r}, 'w').write(str(os.getpid()))\ntime.sleep(600)\n",
    )
    return "example.com/fns/sleeper:v1", sleeper, pidfile


def test_an_exec_function_has_the_time_limit(tmp_path: Path) -> None:
    image, sleeper, pidfile = _sleeper(tmp_path)
    with pool.Box(runtimes.Settings(executables={image: str(sleeper)}, timeout=1.0)) as box:
        result = box.render(_exec_package(image))
        assert not result.ok
        assert result.error.endswith(f"function {image} exceeded its 1 s time limit")
        assert not _alive(int(pidfile.read_text()))


def test_an_exec_function_dies_with_its_worker(tmp_path: Path) -> None:
    image, sleeper, pidfile = _sleeper(tmp_path)
    with pool.Box(runtimes.Settings(executables={image: str(sleeper)}, timeout=300.0)) as box:
        outcome: list[render.RenderResult] = []
        thread = threading.Thread(target=lambda: outcome.append(box.render(_exec_package(image))))
        thread.start()
        deadline = time.monotonic() + 60
        while not (pidfile.exists() and pidfile.read_text()) and time.monotonic() < deadline:
            time.sleep(0.02)
        child = int(pidfile.read_text())
        os.kill(box.pids()[0], signal.SIGKILL)
        thread.join(60)
        assert outcome
        assert f"function {image} exceeded its 256 MiB memory limit" in outcome[0].error
        deadline = time.monotonic() + 30
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not _alive(child)


# -- the protocol and the rest ------------------------------------------------------------


def test_worker_answers_are_plain_data_only() -> None:
    with pytest.raises(frames.FrameError, match="plain data only"):
        frames.loads_plain(pickle.dumps(threading.Lock))
    assert frames.loads_plain(pickle.dumps({"a": [b"x", 1, 2.5, None, True]})) == {
        "a": [b"x", 1, 2.5, None, True]
    }
    quoted = frames.plain({"name": DoubleQuotedScalarString("web"), "n": (1, 2)})
    assert quoted == {"name": "web", "n": [1, 2]}
    assert type(quoted["name"]) is str


def test_eval_runs_in_the_box(box: pool.Box) -> None:
    tree = {"Kptfile": pipelines.kptfile("e").encode(), "cm.yaml": pipelines.CONFIGMAP.encode()}
    evaluated = box.evaluate(tree, pipelines.SET_LABELS_IMAGE, {"tier": "web"})
    assert evaluated.ok, evaluated.error
    assert b"tier: web" in evaluated.tree["cm.yaml"]
    assert b"tier: web" in evaluated.tree["Kptfile"]  # kpt's eval shows the Kptfile too
    assert '[PASS] "' in evaluated.log


def test_function_metrics_reach_the_parent(box: pool.Box) -> None:
    def count() -> float:
        value = prometheus_client.REGISTRY.get_sample_value(
            "lanai_function_evaluations_total",
            {"function": pipelines.SET_LABELS_IMAGE, "runtime": "builtin", "outcome": "ok"},
        )
        return value or 0.0

    before = count()
    _renders_normally(box)
    assert count() == before + 1


def test_the_box_renders_exactly_what_render_renders(box: pool.Box) -> None:
    from bench import render as render_bench

    tree = render_bench.package_tree()
    here = render.render(dict(tree), runtimes.build(runtimes.Settings()).runtime)
    there = box.render(tree)
    assert there.ok
    assert there.tree == here.tree
    assert there.results == here.results


def test_renders_share_the_workers_from_many_threads() -> None:
    seen: set[int] = set()
    results: list[render.RenderResult] = []
    files = pipelines.as_bytes(pipelines.starlark_package(pipelines.HARMLESS, labels=True))
    with pool.Box(SETTINGS, workers=2) as box:

        def render_once() -> None:
            results.append(box.render(files))
            seen.update(box.pids())

        threads = [threading.Thread(target=render_once) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    assert len(results) == 6
    assert all(result.ok for result in results)
    assert 1 <= len(seen) <= 2


def test_a_single_threaded_command_forks_its_worker(tmp_path: Path) -> None:
    """``lanai fn`` forks instead of loading Lanai again; the limits hold the same."""
    script = textwrap.dedent(
        f"""
        import os
        from lanai.functions import runtimes
        from lanai.functions.box import pool
        from tests.support import pipelines
        box = pool.Box(runtimes.Settings(memory={MEMORY}), workers=1, fork=True)
        box.start(1)
        (worker,) = box.pids()
        forked = open(f"/proc/{{worker}}/cmdline").read() == open("/proc/self/cmdline").read()
        files = pipelines.as_bytes(pipelines.starlark_package(pipelines.DOUBLING))
        result = box.render(files)
        print(forked, result.error)
        box.close()
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    forked, _, error = done.stdout.strip().partition(" ")
    assert forked == "True"
    assert error.endswith(f"function {STARLARK_IMAGE} exceeded its 64 MiB memory limit")
    assert "Traceback" not in done.stderr


def test_a_function_runner_serves_each_function_from_the_box() -> None:
    """``lanai function-runner``: a bomb sent over gRPC fails that call; the next works."""
    from lanai.functions import grpc_runtime, runner_server
    from tests.unit.functions import yamlkit

    options = runner_server.Options(host="127.0.0.1", port=0, timeout=30.0)
    with pool.Box(SETTINGS, workers=2) as box:
        server = runner_server.Server(pool.BoxedRuntime(box), options).start()
        try:
            with grpc_runtime.GrpcRuntime(f"127.0.0.1:{server.port}", timeout=60) as client:
                items = pipelines.CONFIGMAP
                bomb = yamlkit.resource_list(items, pipelines.starlark_config(pipelines.DOUBLING))
                mine = _rss(os.getpid())
                with pytest.raises(fnapi.FunctionError, match="exceeded its 64 MiB memory limit"):
                    client.evaluate(fnapi.FunctionRef(image=STARLARK_IMAGE), bomb)
                assert _rss(os.getpid()) - mine < 16 * limits.MIB
                config = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {tier: web}"
                output = client.evaluate(
                    fnapi.FunctionRef(image=pipelines.SET_LABELS_IMAGE),
                    yamlkit.resource_list(items, config),
                )
                assert output.resource_list["items"][0]["metadata"]["labels"] == {"tier": "web"}
                with pytest.raises(fnapi.FunctionNotFound):
                    client.evaluate(fnapi.FunctionRef(image="example.com/none:v1"), bomb)
        finally:
            server.stop(grace=0)


CONFIG_MAP = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n"


def test_a_package_without_functions_renders_without_a_worker() -> None:
    with pool.Box(SETTINGS, workers=1) as box:
        files = {"Kptfile": pipelines.kptfile("plain").encode(), "cm.yaml": CONFIG_MAP}
        result = box.render(files)
        assert result.ok, result.error
        assert b"RenderSuccess" in result.tree["Kptfile"]
        assert box.pids() == []  # nothing of the author's ran, so nothing needed a box
        broken = box.render({"Kptfile": b"kind: [unclosed\n"})
        assert not broken.ok
        assert box.pids() != []  # an unreadable Kptfile is reported from a worker


def test_a_worker_that_cannot_start_fails_the_render_cleanly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broken = [sys.executable, "-c", "import sys; sys.stderr.write('no lanai here\\n'); sys.exit(3)"]
    with pool.Box(SETTINGS, workers=1, command=broken) as box:
        result = box.render(pipelines.as_bytes(pipelines.starlark_package(pipelines.HARMLESS)))
    assert not result.ok
    assert result.error == (
        f"{render.ERROR_PREFIX}: could not start a function worker: exited with code 3"
    )
    assert "a function worker failed to start: no lanai here" in caplog.text
