#!/usr/bin/env bash
# Runs the whole platform on this machine: embedded PostgreSQL and broker, five services.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
exec .venv/bin/accolade up "$@"
