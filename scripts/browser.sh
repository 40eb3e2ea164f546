#!/usr/bin/env bash
# Installs what the console's browser test needs: Debian's Chromium (as root, with apt)
# and playwright-core (pinned in tests/browser/package-lock.json).
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ! -x /usr/bin/chromium ]]; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "browser: installing Debian's chromium"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null \
      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; }
  else
    echo "browser: /usr/bin/chromium is missing; install Debian's chromium as root" >&2
  fi
fi
if [[ ! -d tests/browser/node_modules/playwright-core ]] && command -v npm >/dev/null; then
  echo "browser: installing playwright-core"
  (cd tests/browser && npm install --no-save --no-audit --no-fund --loglevel=error)
fi
