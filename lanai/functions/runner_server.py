"""``lanai function-runner``: Porch's function-runner service, served by Lanai.

Porch deploys its function runner as a separate gRPC service so that functions run
outside the API server; Lanai offers the same service over its own runtimes (builtin
catalog functions, configured executables), so Porch can use Lanai's runner and Lanai
Porch's. As in Porch, an unknown image is ``NOT_FOUND`` and a failing function is
``INTERNAL`` with its stderr in the status text (plus, for Lanai clients, its structured
results in a trailer, see :mod:`lanai.functions.wire`).

Load is bounded: at most ``max_concurrent`` evaluations run at once; further callers
wait for a free slot until their deadline (at most ``queue_timeout``) and then get
``RESOURCE_EXHAUSTED``; gRPC itself turns away callers beyond ``4 * max_concurrent``
in flight. A function that outlives ``timeout`` is answered with ``DEADLINE_EXCEEDED``
(executables are killed at that point and reported as failed, ``INTERNAL``, as
Porch does; a function keeps its slot until its runtime returns, so a stuck one cannot
push the runner over its bound). ``lanai function-runner`` hands the evaluator a
runtime that runs each function in a worker process with a memory and time limit
(``lanai.functions.box``), so a function's memory is never the runner's.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from lanai.functions import wire
from lanai.functions.proto import evaluator_pb2, evaluator_pb2_grpc
from lanai.kpt import fnapi, resourcelist

logger = logging.getLogger(__name__)

_GRACE = 1.0


@dataclass(frozen=True)
class Options:
    host: str = "0.0.0.0"  # noqa: S104 -- a service inside a pod listens on every interface
    port: int = wire.DEFAULT_PORT
    max_message: int = wire.DEFAULT_MAX_MESSAGE
    timeout: float = wire.RUNNER_TIMEOUT
    max_concurrent: int = wire.RUNNER_MAX_CONCURRENT
    queue_timeout: float = wire.RUNNER_QUEUE_TIMEOUT


class _Abort(Exception):
    def __init__(self, code: grpc.StatusCode, details: str, results: list[Any] | None = None):
        super().__init__(details)
        self.code = code
        self.details = details
        self.results = results or []


class Evaluator(evaluator_pb2_grpc.FunctionEvaluatorServicer):
    """The FunctionEvaluator service over one (thread-safe) runtime."""

    def __init__(self, runtime: fnapi.FunctionRuntime, options: Options) -> None:
        self._runtime = runtime
        self._options = options
        self._slots = threading.BoundedSemaphore(options.max_concurrent)
        self._pool = concurrent.futures.ThreadPoolExecutor(
            options.max_concurrent, thread_name_prefix="lanai-fn"
        )

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def EvaluateFunction(
        self, request: evaluator_pb2.EvaluateFunctionRequest, context: grpc.ServicerContext
    ) -> evaluator_pb2.EvaluateFunctionResponse:
        started = time.perf_counter()
        image = request.image
        try:
            response = self._evaluate(request, context)
        except _Abort as abort:
            logger.info(
                "function %s: %s after %.3fs",
                image or "<none>",
                abort.code.name,
                time.perf_counter() - started,
            )
            trailer = wire.encode_results(abort.results) if abort.results else None
            if trailer is not None:
                context.set_trailing_metadata(((wire.RESULTS_TRAILER, trailer),))
            context.abort(abort.code, wire.clip(abort.details))
        logger.info("function %s: OK after %.3fs", image, time.perf_counter() - started)
        return response

    def _evaluate(
        self, request: evaluator_pb2.EvaluateFunctionRequest, context: grpc.ServicerContext
    ) -> evaluator_pb2.EvaluateFunctionResponse:
        image = request.image
        if not image:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "the request names no image")
        try:
            resource_list = resourcelist.decode(request.resource_list)
        except resourcelist.ResourceError as error:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, f"function {image}: {error}") from None
        wait = _within(context, self._options.queue_timeout)
        if not self._slots.acquire(timeout=wait):
            raise _Abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"function runner busy: {self._options.max_concurrent} evaluations running, "
                f"function {image} waited {wait:g}s for a slot",
            )
        try:
            future = self._pool.submit(
                self._runtime.evaluate, fnapi.FunctionRef(image=image), resource_list
            )
        except RuntimeError:  # the pool is shut down: the server is stopping
            self._slots.release()
            raise _Abort(grpc.StatusCode.UNAVAILABLE, "function runner is stopping") from None
        future.add_done_callback(lambda _: self._slots.release())
        # A grace beyond the timeout lets an executable's own kill report first (with its
        # stderr); the wait is the backstop for in-process functions.
        limit = _within(context, self._options.timeout + _GRACE)
        try:
            output = future.result(timeout=limit)
        except concurrent.futures.TimeoutError:
            cause = (
                f"within {self._options.timeout:g}s"
                if limit >= self._options.timeout
                else f"before the caller's deadline ({limit:.3g}s)"
            )
            raise _Abort(
                grpc.StatusCode.DEADLINE_EXCEEDED, f"function {image} did not finish {cause}"
            ) from None
        except fnapi.FunctionNotFound:
            raise _Abort(
                grpc.StatusCode.NOT_FOUND, f"function {image} is not known to this runner"
            ) from None
        except fnapi.FunctionError as error:
            raise _Abort(grpc.StatusCode.INTERNAL, _failure(image, error), error.results) from None
        except Exception as error:  # a runtime bug fails this call, not the server
            logger.exception("function %s: the runtime crashed", image)
            raise _Abort(
                grpc.StatusCode.INTERNAL, f"function {image} could not run: {error}"
            ) from None
        encoded = resourcelist.encode(output.resource_list)
        log = output.stderr.encode()
        response = evaluator_pb2.EvaluateFunctionResponse(resource_list=encoded, log=log)
        if response.ByteSize() > self._options.max_message:
            raise _Abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"function {image}: the output is {response.ByteSize()} bytes, more than "
                f"the {self._options.max_message} bytes a message may hold",
            )
        return response


def _within(context: grpc.ServicerContext, limit: float) -> float:
    """``limit``, shortened to the caller's deadline when it has one."""
    remaining = context.time_remaining()
    return limit if remaining is None else max(0.0, min(limit, remaining))


def _failure(image: str, error: fnapi.FunctionError) -> str:
    """Porch's status text names the image and carries stderr; so does ours."""
    message = error.message
    if image not in message:
        message = f"failed to evaluate function {image}: {message}"
    stderr = error.stderr.strip()
    if stderr and stderr not in message:
        message += f" (stderr: {wire.clip(stderr, wire.MAX_DETAILS // 2)})"
    return message


class Server:
    """A running function runner: the gRPC server, its evaluator and health service."""

    def __init__(self, runtime: fnapi.FunctionRuntime, options: Options) -> None:
        self.options = options
        self.evaluator = Evaluator(runtime, options)
        workers = 4 * options.max_concurrent + 4
        self._grpc = grpc.server(
            concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="lanai-grpc"),
            options=wire.channel_options(options.max_message),
            maximum_concurrent_rpcs=workers,
        )
        evaluator_pb2_grpc.add_FunctionEvaluatorServicer_to_server(self.evaluator, self._grpc)
        self.health = health.HealthServicer(experimental_non_blocking=True)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self._grpc)
        self.port = self._grpc.add_insecure_port(f"{_bracketed(options.host)}:{options.port}")
        if self.port == 0:
            raise OSError(f"cannot listen on {options.host}:{options.port}")

    def start(self) -> Server:
        self._grpc.start()
        for service in ("", wire.SERVICE):
            self.health.set(service, health_pb2.HealthCheckResponse.SERVING)
        logger.info("function runner listening on %s:%d", self.options.host, self.port)
        return self

    def wait(self) -> None:
        self._grpc.wait_for_termination()

    def stop(self, grace: float | None = 5.0) -> None:
        self.health.enter_graceful_shutdown()
        self._grpc.stop(grace).wait()
        self.evaluator.shutdown()


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
