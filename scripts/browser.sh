#!/usr/bin/env bash
# Installs what the console's browser test needs: Debian's Chromium (as root, with apt)
# and playwright-core (pinned in tests/browser/package-lock.json).
set -euo pipefail
cd "$(dirname "$0")/.."
# A CJK font (7 MB) so the zh-CN screenshots show characters, not boxes.
packages=(chromium fonts-wqy-zenhei)
if [[ ! -x /usr/bin/chromium || ! -d /usr/share/fonts/truetype/wqy ]]; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "browser: installing ${packages[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null \
      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null; }
  else
    echo "browser: install Debian's ${packages[*]} as root" >&2
  fi
fi
if [[ ! -d tests/browser/node_modules/playwright-core ]] && command -v npm >/dev/null; then
  echo "browser: installing playwright-core"
  (cd tests/browser && npm install --no-save --no-audit --no-fund --loglevel=error)
fi
