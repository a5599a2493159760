"""The gRPC runtime: functions evaluated by a function runner over the network.

The runner is Porch's (or ``lanai function-runner``), reached through Porch's
``evaluator.FunctionEvaluator`` protocol. Only images travel: an ``exec`` path names a
file on this machine, which a runner elsewhere cannot run. Every call has a deadline,
so a stuck runner or function fails the step instead of holding a render forever.
"""

from __future__ import annotations

from types import TracebackType

import grpc
from ruamel.yaml.comments import CommentedMap

from lanai.functions import wire
from lanai.functions.proto import evaluator_pb2, evaluator_pb2_grpc
from lanai.kpt import fnapi, resourcelist
from lanai.trust import limits

DEFAULT_TIMEOUT = 120.0

# Codes under which the runner says it has no such function (or no evaluator at all), so
# a chain may try its next runtime.
_NOT_FOUND = (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.UNIMPLEMENTED)


class GrpcRuntime:
    """Calls a function runner. Thread-safe: gRPC channels and stubs may be shared."""

    name = "grpc"

    def __init__(
        self,
        address: str,
        timeout: float = DEFAULT_TIMEOUT,
        max_message: int = wire.DEFAULT_MAX_MESSAGE,
    ) -> None:
        self.address = address
        self._timeout = timeout
        self._max_message = max_message
        self._channel = grpc.insecure_channel(address, options=wire.channel_options(max_message))
        self._stub = evaluator_pb2_grpc.FunctionEvaluatorStub(self._channel)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> GrpcRuntime:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def evaluate(self, fn: fnapi.FunctionRef, resource_list: CommentedMap) -> fnapi.FunctionOutput:
        if not fn.image:
            raise fnapi.FunctionNotFound(
                message=f"function runner {self.address} runs images only, not {fn.display}"
            )
        request = evaluator_pb2.EvaluateFunctionRequest(
            resource_list=resourcelist.encode(resource_list), image=fn.image
        )
        size = request.ByteSize()
        if size > self._max_message:
            raise fnapi.FunctionError(
                message=f"function {fn.image}: the request is {size} bytes, more than the "
                f"{self._max_message} bytes a function runner message may hold"
            )
        try:
            response = self._stub.EvaluateFunction(request, timeout=self._timeout)
        except grpc.RpcError as error:
            raise self._failure(fn.image, error) from None
        try:
            output = resourcelist.decode(response.resource_list)
        except resourcelist.ResourceError as error:
            raise fnapi.FunctionError(
                message=f"function {fn.image} on function runner {self.address} "
                f"returned no ResourceList: {error}",
                stderr=response.log.decode("utf-8", "replace"),
            ) from error
        return fnapi.FunctionOutput(
            resource_list=output, stderr=response.log.decode("utf-8", "replace"), exit_code=0
        )

    def _failure(self, image: str, error: grpc.RpcError) -> fnapi.FunctionError:
        """The FunctionError (or FunctionNotFound) a failed call stands for."""
        assert isinstance(error, grpc.Call)
        code = error.code()
        details = error.details() or code.name
        where = f"function runner {self.address}"
        if code in _NOT_FOUND:
            return fnapi.FunctionNotFound(message=f"{where} has no function {image}: {details}")
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            # gRPC's own text when our deadline passed; anything else is the runner's.
            if details == "Deadline Exceeded":
                return fnapi.FunctionLimitExceeded(
                    message=f"{limits.time_exceeded(image, self._timeout)} on {where}",
                    exit_code=-1,
                    limit="time",
                    amount=self._timeout,
                )
            return fnapi.FunctionError(
                message=f"function {image} timed out on {where}: {details}", exit_code=-1
            )
        if code == grpc.StatusCode.UNAVAILABLE:
            return fnapi.FunctionError(
                message=f"{where} is unavailable, cannot run function {image}: {details}"
            )
        if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
            return fnapi.FunctionError(message=f"{where} refused function {image}: {details}")
        message = (
            f"{details} (on {where})"
            if image in details
            else (f"function {image} failed on {where}: {details}")
        )
        return fnapi.FunctionError(
            message=message,
            stderr=details,
            results=wire.decode_results(error.trailing_metadata()),
        )
