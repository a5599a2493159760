"""A real gRPC round trip: GrpcRuntime against an in-process function runner."""

from __future__ import annotations

import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import REGISTRY
from ruamel.yaml.comments import CommentedMap

from lanai.functions import (
    builtin_runtime,
    chain,
    exec_runtime,
    grpc_runtime,
    runner_server,
    wire,
)
from lanai.functions.proto import evaluator_pb2
from lanai.kpt import fnapi
from tests.unit.functions import yamlkit

ITEMS = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a # comment\n"
CONFIG = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {namespace: prod}"
SERVER_MAX = 64 * 1024

HANG = "import sys, time\nsys.stdin.read()\ntime.sleep(60)\n"
FAIL = """\
import sys
sys.stdin.read()
sys.stdout.write(
    "apiVersion: config.kubernetes.io/v1\\nkind: ResourceList\\nitems: []\\n"
    "results:\\n- message: replicas must be positive\\n  severity: error\\n"
)
sys.stderr.write("validation failed\\n")
sys.exit(1)
"""


def _script(directory: Path, name: str, body: str) -> str:
    path = directory / name
    path.write_text(f"#!{sys.executable}\n" + textwrap.dedent(body))
    path.chmod(0o755)
    return str(path)


def _runner(directory: Path, **overrides: float | int) -> runner_server.Server:
    settings: dict[str, float | int] = {"max_message": SERVER_MAX, "timeout": 1.0, **overrides}
    options = runner_server.Options(host="127.0.0.1", port=0, **settings)  # type: ignore[arg-type]
    executables = {
        "example.com/fns/hang:v1": _script(directory, "hang", HANG),
        "example.com/fns/fail:v1": _script(directory, "fail", FAIL),
    }
    runtime = chain.ChainRuntime(
        [
            builtin_runtime.BuiltinRuntime(),
            exec_runtime.ExecRuntime(executables, allow_exec=False, timeout=options.timeout),
        ]
    )
    return runner_server.Server(runtime, options).start()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[runner_server.Server]:
    running = _runner(tmp_path_factory.mktemp("fns"))
    yield running
    running.stop(grace=0)


@pytest.fixture
def client(server: runner_server.Server) -> Iterator[grpc_runtime.GrpcRuntime]:
    with grpc_runtime.GrpcRuntime(f"127.0.0.1:{server.port}", timeout=5.0) as runtime:
        yield runtime


def resource_list() -> CommentedMap:
    return yamlkit.resource_list(ITEMS, CONFIG)


def test_wire_format_matches_porch() -> None:
    request = evaluator_pb2.EvaluateFunctionRequest(resource_list=b"x", image="y")
    assert request.SerializeToString() == b"\x0a\x01x\x12\x01y"
    response = evaluator_pb2.EvaluateFunctionResponse(resource_list=b"r", log=b"l")
    assert response.SerializeToString() == b"\x0a\x01r\x12\x01l"
    service = evaluator_pb2.DESCRIPTOR.services_by_name["FunctionEvaluator"]
    assert service.full_name == "evaluator.FunctionEvaluator"
    assert [m.name for m in service.methods] == ["EvaluateFunction"]


def test_set_namespace_through_the_wire(client: grpc_runtime.GrpcRuntime) -> None:
    output = client.evaluate(fnapi.FunctionRef(image="set-namespace:v0.4.1"), resource_list())
    assert output.exit_code == 0
    assert output.resource_list["items"][0]["metadata"]["namespace"] == "prod"
    assert "# comment" in yamlkit.dump_items(output.resource_list)
    assert output.resource_list["results"][0]["severity"] == "info"
    evaluated = REGISTRY.get_sample_value(
        "lanai_function_evaluations_total",
        {"function": "set-namespace:v0.4.1", "runtime": "builtin", "outcome": "ok"},
    )
    assert evaluated is not None
    assert evaluated >= 1


def test_raw_bytes_request_answered_with_a_resource_list(server: runner_server.Server) -> None:
    payload = yamlkit.dump(resource_list()).encode()
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        call = channel.unary_unary(
            "/evaluator.FunctionEvaluator/EvaluateFunction",
            request_serializer=evaluator_pb2.EvaluateFunctionRequest.SerializeToString,
            response_deserializer=evaluator_pb2.EvaluateFunctionResponse.FromString,
        )
        response = call(
            evaluator_pb2.EvaluateFunctionRequest(
                resource_list=payload, image="gcr.io/kpt-fn/set-namespace:v0.4.1"
            ),
            timeout=5,
        )
    assert b"namespace: prod" in response.resource_list


def test_unknown_image_is_not_found_naming_it(client: grpc_runtime.GrpcRuntime) -> None:
    image = "example.com/nobody/knows:v1"
    with pytest.raises(fnapi.FunctionNotFound, match=r"example\.com/nobody/knows:v1"):
        client.evaluate(fnapi.FunctionRef(image=image), resource_list())
    with pytest.raises(fnapi.FunctionNotFound, match=r"has no function example\.com/nobody"):
        chain.ChainRuntime([client]).evaluate(fnapi.FunctionRef(image=image), resource_list())


def test_failing_function_reports_stderr_and_results(client: grpc_runtime.GrpcRuntime) -> None:
    with pytest.raises(fnapi.FunctionError) as caught:
        client.evaluate(fnapi.FunctionRef(image="example.com/fns/fail:v1"), resource_list())
    error = caught.value
    assert not isinstance(error, fnapi.FunctionNotFound)
    assert "example.com/fns/fail:v1" in error.message
    assert "validation failed" in error.message
    assert error.results == [{"message": "replicas must be positive", "severity": "error"}]


def test_hanging_function_hits_the_deadline(server: runner_server.Server) -> None:
    started = time.monotonic()
    with (
        grpc_runtime.GrpcRuntime(f"127.0.0.1:{server.port}", timeout=0.5) as impatient,
        pytest.raises(
            fnapi.FunctionError,
            match=r"hang:v1 (exceeded its 0\.5 s time limit on|timed out on .*caller's deadline)",
        ),
    ):
        impatient.evaluate(fnapi.FunctionRef(image="example.com/fns/hang:v1"), resource_list())
    assert time.monotonic() - started < 2


def test_runner_enforces_its_own_timeout(client: grpc_runtime.GrpcRuntime) -> None:
    with pytest.raises(fnapi.FunctionError, match=r"hang:v1.*exceeded its 1 s time limit"):
        client.evaluate(fnapi.FunctionRef(image="example.com/fns/hang:v1"), resource_list())


def _big_list(size: int) -> CommentedMap:
    return yamlkit.resource_list(ITEMS + f"data:\n  blob: {'x' * size}\n", CONFIG)


def test_oversize_request_fails_before_sending(server: runner_server.Server) -> None:
    with (
        grpc_runtime.GrpcRuntime(f"127.0.0.1:{server.port}", max_message=4096) as small,
        pytest.raises(fnapi.FunctionError, match=r"more than the 4096 bytes"),
    ):
        small.evaluate(fnapi.FunctionRef(image="set-namespace"), _big_list(8192))


def test_oversize_request_refused_by_the_runner(client: grpc_runtime.GrpcRuntime) -> None:
    with pytest.raises(fnapi.FunctionError, match=r"refused function .*set-namespace.*larger"):
        client.evaluate(fnapi.FunctionRef(image="set-namespace"), _big_list(SERVER_MAX))


def test_health_is_serving(server: runner_server.Server) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        for service in ("", wire.SERVICE):
            answer = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
            assert answer.status == health_pb2.HealthCheckResponse.SERVING


def _expect_failure(runtime: grpc_runtime.GrpcRuntime, image: str) -> None:
    with pytest.raises(fnapi.FunctionError):
        runtime.evaluate(fnapi.FunctionRef(image=image), resource_list())


def test_busy_runner_answers_resource_exhausted(tmp_path: Path) -> None:
    busy = _runner(tmp_path, max_concurrent=1, queue_timeout=0.2, timeout=1.0)
    address = f"127.0.0.1:{busy.port}"
    try:
        with grpc_runtime.GrpcRuntime(address, timeout=5) as first:
            hang = threading.Thread(target=_expect_failure, args=(first, "example.com/fns/hang:v1"))
            hang.start()
            time.sleep(0.3)
            with pytest.raises(fnapi.FunctionError, match="busy"):
                first.evaluate(fnapi.FunctionRef(image="set-namespace"), resource_list())
            hang.join()
    finally:
        busy.stop(grace=0)


def test_unreachable_runner_fails_fast() -> None:
    with (
        grpc_runtime.GrpcRuntime("127.0.0.1:1", timeout=5) as nowhere,
        pytest.raises(fnapi.FunctionError, match=r"127\.0\.0\.1:1 is unavailable"),
    ):
        nowhere.evaluate(fnapi.FunctionRef(image="set-namespace"), resource_list())


def test_results_trailer_keeps_what_fits() -> None:
    results = [{"message": "m" * 100, "severity": "error"} for _ in range(100)]
    data = wire.encode_results(results, limit=1000)
    assert data is not None
    assert len(data) <= 1000
    decoded = wire.decode_results([(wire.RESULTS_TRAILER, data)])
    assert 0 < len(decoded) < 100
    assert decoded[0] == results[0]
    assert wire.decode_results([("other", b"x"), (wire.RESULTS_TRAILER, b"not json")]) == []
