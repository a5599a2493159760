#!/usr/bin/env bash
# Regenerate evaluator_pb2.py, evaluator_pb2.pyi and evaluator_pb2_grpc.py from
# evaluator.proto with grpcio-tools (a dev dependency). Run from anywhere; the modules
# import each other as lanai.functions.proto.*, hence the include path at the repo root.
# evaluator_pb2_grpc.pyi is written by hand (protoc makes no stub for the service module).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
cd "$root"
"${PYTHON:-$root/.venv/bin/python}" -m grpc_tools.protoc -I . \
  --python_out=. --pyi_out=. --grpc_python_out=. \
  lanai/functions/proto/evaluator.proto
