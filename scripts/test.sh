#!/usr/bin/env bash
# The whole suite: static checks, then unit, integration and system tests on real servers.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
scripts/lint.sh
exec .venv/bin/pytest "$@"
