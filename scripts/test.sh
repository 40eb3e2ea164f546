#!/usr/bin/env bash
# The whole suite: static checks, then unit, integration and system tests on real servers.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
scripts/lint.sh
.venv/bin/pytest "$@"
# The image test needs a container engine; without one it says SKIP and passes. It does
# not run when tests are picked by arguments, and CI runs it on its own (.ci/run).
if [[ $# -eq 0 && ${SKIP_IMAGE_TEST:-0} != 1 ]]; then
  IMAGE_TEST_OPTIONAL=1 scripts/image-test.sh
fi
