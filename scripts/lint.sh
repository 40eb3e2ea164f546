#!/usr/bin/env bash
# Static checks: ruff, mypy (strict for service code) and buf lint.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
(cd protos && ../node_modules/.bin/buf lint)
