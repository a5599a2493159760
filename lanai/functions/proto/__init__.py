"""Generated gRPC modules for Porch's function-runner protocol (see evaluator.proto)."""
