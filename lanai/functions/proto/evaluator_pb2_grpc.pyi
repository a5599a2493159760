# Hand-written types for the generated evaluator_pb2_grpc.py (grpcio-tools emits no
# stub for it); keep in step with evaluator.proto when a method is added.
import grpc

from lanai.functions.proto import evaluator_pb2

class FunctionEvaluatorStub:
    EvaluateFunction: grpc.UnaryUnaryMultiCallable[
        evaluator_pb2.EvaluateFunctionRequest, evaluator_pb2.EvaluateFunctionResponse
    ]
    def __init__(self, channel: grpc.Channel) -> None: ...

class FunctionEvaluatorServicer:
    def EvaluateFunction(
        self,
        request: evaluator_pb2.EvaluateFunctionRequest,
        context: grpc.ServicerContext,
    ) -> evaluator_pb2.EvaluateFunctionResponse: ...

def add_FunctionEvaluatorServicer_to_server(
    servicer: FunctionEvaluatorServicer, server: grpc.Server
) -> None: ...
