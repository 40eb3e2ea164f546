#!/usr/bin/env bash
# Builds the Accolade image from deploy/Dockerfile: with docker when a Docker engine
# answers, else with podman. With podman and no BASE_IMAGE given, the base image is made
# locally from Debian's packages (no registry needed) and kept for the next builds.
#
# Environment:
#   IMAGE          tag to build (default accolade:dev)
#   ENGINE         docker or podman (default: docker if `docker info` works, else podman)
#   BASE_IMAGE     base of both stages (default: the Dockerfile's with docker,
#                  localhost/accolade-base:bookworm with podman)
#   DEBIAN_MIRROR  mirror for the local base (default: the one apt on this machine uses)
set -euo pipefail
cd "$(dirname "$0")/.."

image=${IMAGE:-accolade:dev}
local_base=localhost/accolade-base:bookworm
debian_base=localhost/debian:bookworm
host_bundle=/etc/ssl/certs/ca-certificates.crt

say() { echo "image: $*" >&2; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

scratch=()
cleanup() { ((${#scratch[@]})) && rm -rf "${scratch[@]}"; return 0; }
trap cleanup EXIT

source scripts/engine.sh
if [[ -z $engine ]]; then
  say "no container engine: neither a Docker engine answering 'docker info' nor podman."
  say "install podman with scripts/install-podman.sh (as root), or start Docker."
  exit 1
fi

# The URI apt uses for a suite, so the base comes from the same (reachable) mirror.
apt_uri() {
  local suite=$1 fallback=$2 uri=""
  if command -v apt-get >/dev/null; then
    # shellcheck disable=SC2016 # $(FIELD) is apt's own format syntax
    uri=$(apt-get indextargets --format '$(CODENAME) $(REPO_URI)' 2>/dev/null |
      awk -v s="$suite" '$1 == s { print $2; exit }')
  fi
  echo "${uri:-$fallback}"
}

# A minimal Debian bookworm root filesystem, imported as an image (about 30 s, once).
make_debian_base() {
  podman image exists "$debian_base" && return
  if [[ $(id -u) -ne 0 ]] || ! command -v debootstrap >/dev/null; then
    say "making $debian_base needs root and debootstrap (scripts/install-podman.sh installs it)."
    say "or pass an existing Debian-based Python 3.11 image as BASE_IMAGE."
    exit 1
  fi
  local mirror rootfs t0=$EPOCHREALTIME
  mirror=${DEBIAN_MIRROR:-$(apt_uri bookworm http://deb.debian.org/debian/)}
  rootfs=$(mktemp -d)
  scratch+=("$rootfs")
  scratch+=("$rootfs.log")
  say "debootstrap bookworm (minbase) from $mirror"
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1 || {
    tail -n 30 "$rootfs.log" >&2
    exit 1
  }
  # Slim it the way Debian's own -slim images are: no package lists or apt caches, and
  # dpkg told to skip docs, man pages and translations in every later install.
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb
  printf '%s\n' 'Dir::Cache::pkgcache "";' 'Dir::Cache::srcpkgcache "";' \
    >"$rootfs/etc/apt/apt.conf.d/docker-clean"
  printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
    'path-exclude /usr/share/groff/*' 'path-exclude /usr/share/info/*' \
    'path-exclude /usr/share/lintian/*' 'path-exclude /usr/share/linda/*' \
    'path-exclude /usr/share/locale/*' 'path-exclude /usr/share/man/*' \
    >"$rootfs/etc/dpkg/dpkg.cfg.d/docker-slim"
  find "$rootfs/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
  find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$rootfs"/usr/share/{groff,info,lintian,linda,locale,man}/*
  tar -C "$rootfs" -c . | podman import --change 'CMD ["/bin/bash"]' - "$debian_base" >/dev/null
  say "made $debian_base in $(since "$t0")s"
}

# The local stand-in for python:3.11-slim-bookworm: Debian's python3 (3.11 in bookworm)
# with venv and the CA certificates, updated from bookworm-updates and the security suite.
make_python_base() {
  podman image exists "$local_base" && return
  local mirror security dir t0
  make_debian_base
  t0=$EPOCHREALTIME
  mirror=${DEBIAN_MIRROR:-$(apt_uri bookworm http://deb.debian.org/debian/)}
  security=$(apt_uri bookworm-security http://deb.debian.org/debian-security/)
  dir=$(mktemp -d)
  scratch+=("$dir")
  cat >"$dir/Containerfile" <<EOF
FROM $debian_base
RUN printf '%s\n' \\
      'deb $mirror bookworm main' \\
      'deb $mirror bookworm-updates main' \\
      'deb $security bookworm-security main' >/etc/apt/sources.list \\
 && apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get upgrade -y \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \\
      python3 python3-venv ca-certificates \\
 && apt-get clean \\
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log
CMD ["python3"]
EOF
  say "making $local_base (Debian's python3 and python3-venv)"
  # --squash-all: one layer, so files the upgrade replaced are not carried twice.
  podman build --quiet --squash-all -t "$local_base" "$dir" >/dev/null
  say "made $local_base in $(since "$t0")s"
}

build_args=(--build-arg "REVISION=$(git rev-parse HEAD 2>/dev/null || echo unknown)")
started=$EPOCHREALTIME
if [[ $engine == podman ]]; then
  base=${BASE_IMAGE:-$local_base}
  if [[ $base == "$local_base" ]]; then
    make_python_base
  fi
  build_args+=(--build-arg "BASE_IMAGE=$base" --layers)
  # Builds may sit behind a TLS-intercepting proxy: give pip the host's CA bundle.
  if [[ -r $host_bundle ]]; then
    build_args+=(-v "$host_bundle:/etc/ssl/certs/host-bundle.crt:ro"
      --build-arg PIP_CERT=/etc/ssl/certs/host-bundle.crt)
  fi
else
  base=${BASE_IMAGE:-}
  if [[ -n $base ]]; then
    build_args+=(--build-arg "BASE_IMAGE=$base")
  fi
fi

say "building $image with $engine${base:+ from $base}"
"$engine" build -f deploy/Dockerfile -t "$image" "${build_args[@]}" .
size=$("$engine" image inspect --format '{{.Size}}' "$image")
say "built $image with $engine in $(since "$started")s; size $((size / 1000000)) MB"
