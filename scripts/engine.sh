# Sourced by the image scripts: the container engine to use, in $engine. ENGINE wins;
# else docker when a Docker engine answers, else podman; empty when there is neither.
engine=${ENGINE:-}
if [[ -z $engine ]]; then
  if command -v docker >/dev/null && timeout 20 docker info >/dev/null 2>&1; then
    engine=docker
  elif command -v podman >/dev/null; then
    engine=podman
  fi
fi
