#!/usr/bin/env bash
# Regenerates the Python stubs under services/accolade/v1 from protos/; the only way they are made.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-services}
rm -f "$out"/accolade/v1/*_pb2*.py "$out"/accolade/v1/*_pb2*.pyi
mkdir -p "$out/accolade/v1"
.venv/bin/python -m grpc_tools.protoc -Iprotos \
  --python_out="$out" --pyi_out="$out" --grpc_python_out="$out" \
  protos/accolade/v1/*.proto
touch "$out/accolade/v1/__init__.py"
