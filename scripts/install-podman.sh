#!/usr/bin/env bash
# Installs podman (and what it needs to build and run images without a registry) from
# Debian's packages, and sets the containers.conf keys these machines need. Idempotent.
set -euo pipefail

packages=(podman buildah fuse-overlayfs slirp4netns uidmap debootstrap runc)
conf=${CONTAINERS_CONF:-/etc/containers/containers.conf}

say() { echo "install-podman: $*"; }

if [[ $(id -u) -ne 0 ]]; then
  if command -v podman >/dev/null; then
    say "podman is installed; not root, so $conf is left as it is"
    exit 0
  fi
  say "podman is not installed and installing it needs root." >&2
  say "run as root:  sudo $0   (or: apt-get install ${packages[*]})" >&2
  exit 1
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
if ((${#missing[@]})); then
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  say "packages already installed: ${packages[*]}"
fi

# set_key SECTION KEY VALUE: sets KEY = VALUE under [SECTION] of $conf, keeping every
# other line (an existing KEY, even spread over several lines, is replaced). crun fails
# on these machines and systemd is not PID 1, hence runc, cgroupfs and a file events
# log; the ulimits replace a host default that podman cannot apply here.
set_key() {
  local section=$1 key=$2 value=$3 tmp
  tmp=$(mktemp "$conf.XXXXXX")
  # Two passes: the first finds whether the section and the key exist, the second writes.
  awk -v section="[$section]" -v key="$key" -v line="$key = $value" '
    function header_of(s) { gsub(/[[:space:]]/, "", s); return s }
    FNR == 1 { current = "" }
    /^[[:space:]]*\[[^]]*\][[:space:]]*$/ { current = header_of($0) }
    { is_key = (current == section && $0 ~ "^[[:space:]]*" key "[[:space:]]*=") }
    FNR == NR { if (current == section) has_section = 1; if (is_key) has_key = 1; next }
    skipping { if ($0 ~ /\]/) skipping = 0; next }
    is_key {
      if (!done) print line; done = 1
      # A multi-line array: drop its continuation lines too.
      value_part = $0; sub(/^[^=]*=/, "", value_part)
      if (value_part ~ /\[/ && value_part !~ /\]/) skipping = 1
      next
    }
    { print }
    /^[[:space:]]*\[[^]]*\][[:space:]]*$/ && current == section && !has_key && !done {
      print line; done = 1
    }
    END { if (!has_section) { if (NR) print ""; print section; print line } }
  ' "$conf" "$conf" >"$tmp"
  chmod 644 "$tmp"
  mv "$tmp" "$conf"
}

mkdir -p "$(dirname "$conf")"
[[ -f $conf ]] || : >"$conf"
before=$(sha256sum "$conf")
set_key containers default_ulimits '["nofile=20000:20000", "nproc=32768:32768"]'
set_key engine cgroup_manager '"cgroupfs"'
set_key engine events_logger '"file"'
set_key engine runtime '"runc"'
if [[ $(sha256sum "$conf") == "$before" ]]; then
  say "$conf already has the needed settings"
else
  say "updated $conf (cgroup_manager, events_logger, runtime, default_ulimits)"
fi

if podman info --format '{{.Host.OCIRuntime.Name}} {{.Store.GraphDriverName}}' >/dev/null 2>&1; then
  say "ready: $(podman --version), runtime and storage: $(podman info --format '{{.Host.OCIRuntime.Name}} {{.Store.GraphDriverName}}')"
else
  say "podman is installed but 'podman info' fails:" >&2
  podman info >&2 || true
  exit 1
fi
