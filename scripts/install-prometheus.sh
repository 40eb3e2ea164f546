#!/usr/bin/env bash
# Installs the Prometheus server and promtool from Debian's packages; a no-op when both
# are already on PATH. The alert-rule tests need promtool, the monitoring system test
# needs the server (started by the test itself, never as a system service).
set -euo pipefail

package=prometheus

say() { echo "install-prometheus: $*"; }

if command -v promtool >/dev/null && command -v prometheus >/dev/null; then
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  say "promtool and prometheus are not on PATH and installing them needs root." >&2
  say "run as root:  sudo $0   (or: apt-get install --no-install-recommends $package)" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# Another apt run (a neighbouring install script, unattended upgrades) may hold the lock.
apt_get() { apt-get -o DPkg::Lock::Timeout=300 "$@"; }
# Refresh the package lists only when they do not know the package yet: an update costs
# tens of seconds, the install alone a few.
policy=$(apt-cache policy "$package" 2>/dev/null || true)
if [[ $policy != *"Candidate: "[0-9]* ]]; then
  say "updating the package lists"
  apt_get update -qq
fi
say "installing $package"
apt_get install -y -qq --no-install-recommends "$package" >/dev/null

for tool in promtool prometheus; do
  command -v "$tool" >/dev/null || { say "$tool still missing after installing $package" >&2; exit 1; }
done
say "ready: $(prometheus --version 2>&1 | head -n 1)"
