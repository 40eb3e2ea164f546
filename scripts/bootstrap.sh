#!/usr/bin/env bash
# Installs everything the project needs into .venv and node_modules; cheap to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3.11}
command -v "$python" >/dev/null || python=python3

if [[ ! -x .venv/bin/python ]]; then
  echo "bootstrap: creating .venv with $("$python" --version)"
  "$python" -m venv .venv
fi

# Reinstall only when the dependency pins change.
want=$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)
stamp=.venv/.accolade-installed
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
  echo "bootstrap: installing Python dependencies (pinned by constraints.txt)"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]' \
    2> >(grep -v "^WARNING: Location" >&2)
  echo "$want" >"$stamp"
fi

if [[ ! -x node_modules/.bin/buf ]]; then
  if command -v npm >/dev/null; then
    echo "bootstrap: installing buf (pinned in package.json and package-lock.json)"
    # Not `npm ci`: npm 11 refuses this lock file for lacking other platforms' optional
    # binaries. --no-save installs what the lock file says and leaves it untouched.
    npm install --no-save --no-audit --no-fund --loglevel=error
  else
    echo "bootstrap: npm not found; proto lint will be skipped" >&2
  fi
fi
scripts/browser.sh
