#!/usr/bin/env bash
# The image test: builds the image, runs `accolade migrate` and each of the five services
# from it against a real PostgreSQL and broker on this machine, the way the chart runs
# them (uid 10001, read-only root, /tmp the only writable place, no capabilities), checks
# that each reports SERVING, then that SIGTERM stops it cleanly (exit 0, a JSON "stopped"
# line) within the grace period. Everything it starts is removed, on failure too.
#
# Without a container engine (no Docker engine answering, no podman):
#   - IMAGE_TEST_OPTIONAL=1 (as `make test` runs it): prints SKIP and succeeds;
#   - otherwise (as CI runs it): installs podman when root (scripts/install-podman.sh),
#     else fails.
#
# Environment: IMAGE (default accolade:dev), ENGINE (docker or podman),
# IMAGE_TEST_OPTIONAL, STOP_GRACE_SECONDS (default 15: SIGTERM, then SIGKILL after it).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "image-test: $*"; }
test_started=$EPOCHREALTIME
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

optional=${IMAGE_TEST_OPTIONAL:-0}

# 1. A container engine: a Docker engine that answers, else podman, else install podman.
source scripts/engine.sh
if [[ -z $engine ]]; then
  if [[ $optional == 1 ]]; then
    say "SKIP: no container engine here (no Docker engine answers 'docker info', no podman)."
    say "      run scripts/image-test.sh without IMAGE_TEST_OPTIONAL=1 as root to install podman."
    exit 0
  elif [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    say "no container engine; installing podman"
    scripts/install-podman.sh
    engine=podman
  else
    say "FAIL: no container engine (no Docker engine answers 'docker info', no podman),"
    say "      and podman cannot be installed here (needs root and apt-get)."
    say "      install it (sudo scripts/install-podman.sh), start Docker, or set"
    say "      IMAGE_TEST_OPTIONAL=1 to skip the image test."
    exit 1
  fi
fi
export ENGINE=$engine IMAGE=${IMAGE:-accolade:dev}
grace=${STOP_GRACE_SECONDS:-15}
services=(gateway feedback achievements challenges leaderboards)

scripts/bootstrap.sh
py=.venv/bin/python

work=$(mktemp -d /tmp/accolade-image-test.XXXXXX)
chmod 755 "$work" # the PostgreSQL data directory inside belongs to another user as root
prefix=accolade-image-test-$$
containers=()
helper=""

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  for c in "${containers[@]}"; do
    "$engine" rm --force --time 0 "$c" >/dev/null 2>&1 || "$engine" rm --force "$c" >/dev/null 2>&1
  done
  if [[ -n $helper ]]; then
    kill -TERM "$helper" 2>/dev/null
    wait "$helper" 2>/dev/null
  fi
  # Should the helper have died without stopping them (it sends SIGINT: a fast shutdown).
  if [[ -f $work/postgres/postmaster.pid ]]; then
    kill -INT "$(head -n 1 "$work/postgres/postmaster.pid")" 2>/dev/null && sleep 1
  fi
  if [[ -f $work/broker.pid ]]; then
    kill -TERM "$(cat "$work/broker.pid")" 2>/dev/null
  fi
  rm -rf "$work"
  if ((rc != 0)); then
    say "FAILED (exit $rc) after $(since "$test_started")s"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# 2. The image.
build_started=$EPOCHREALTIME
scripts/image.sh >"$work/build.log" 2>&1 || {
  tail -n 40 "$work/build.log"
  say "FAIL: the image did not build"
  exit 1
}
build_seconds=$(since "$build_started")
grep "^image: " "$work/build.log" || true
image_bytes=$("$engine" image inspect --format '{{.Size}}' "$IMAGE")
[[ $("$engine" image inspect --format '{{.Config.User}}' "$IMAGE") == 10001* ]] || {
  say "FAIL: $IMAGE does not run as uid 10001 by default"
  exit 1
}

# 3. PostgreSQL on TCP and the broker, for the containers on the host network.
"$py" scripts/image_check.py servers --work "$work" --env-file "$work/servers.env" &
helper=$!
for _ in $(seq 600); do
  [[ -f $work/servers.env ]] && break
  kill -0 "$helper" 2>/dev/null || {
    say "FAIL: PostgreSQL or the broker did not start"
    exit 1
  }
  sleep 0.1
done
[[ -f $work/servers.env ]] || {
  say "FAIL: PostgreSQL and the broker not ready after 60s"
  exit 1
}
# shellcheck source=/dev/null
source "$work/servers.env"
say "PostgreSQL at $ACCOLADE_DATABASE_URL, broker at $ACCOLADE_KAFKA_BOOTSTRAP"

# Run as the chart runs the pods.
run=(run --network host --read-only --tmpfs /tmp --user 10001:10001 --cap-drop ALL
  --security-opt no-new-privileges
  -e ACCOLADE_DATABASE_URL="$ACCOLADE_DATABASE_URL"
  -e ACCOLADE_KAFKA_BOOTSTRAP="$ACCOLADE_KAFKA_BOOTSTRAP"
  -e ACCOLADE_GRPC_HOST=127.0.0.1)

# 4. The default command, then the migration job.
"$engine" "${run[@]}" --rm "$IMAGE" >/dev/null
migrate_started=$EPOCHREALTIME
containers+=("$prefix-migrate")
"$engine" "${run[@]}" --name "$prefix-migrate" "$IMAGE" migrate >"$work/migrate.log" 2>&1 || {
  cat "$work/migrate.log"
  say "FAIL: accolade migrate failed"
  exit 1
}
migrate_seconds=$(since "$migrate_started")

# 5. The five services, together, on free ports.
read -r -a ports <<<"$("$py" scripts/image_check.py ports $((2 * ${#services[@]})))"
specs=()
for i in "${!services[@]}"; do
  svc=${services[$i]}
  grpc_port=${ports[$((2 * i))]}
  metrics_port=${ports[$((2 * i + 1))]}
  started=$EPOCHREALTIME
  containers+=("$prefix-$svc")
  "$engine" "${run[@]}" --detach --name "$prefix-$svc" \
    -e ACCOLADE_GRPC_PORT="$grpc_port" -e ACCOLADE_METRICS_PORT="$metrics_port" \
    "$IMAGE" serve "$svc" >/dev/null
  specs+=("$svc:$grpc_port:$metrics_port:$prefix-$svc:$started")
done
if ! "$py" scripts/image_check.py serving --engine "$engine" --within 90 "${specs[@]}" \
  >"$work/serving.txt"; then
  for svc in "${services[@]}"; do
    echo "--- $svc"
    "$engine" logs "$prefix-$svc" 2>&1 | tail -n 20
  done
  say "FAIL: not every service reported SERVING"
  exit 1
fi
memory=$("$engine" stats --no-stream --format '{{.Name}} {{.MemUsage}}' \
  "${services[@]/#/$prefix-}" 2>/dev/null || true)

# 6. SIGTERM each (all at once, as a rollout would), expecting exit 0 within the grace.
stoppers=()
for svc in "${services[@]}"; do
  (
    stop_started=$EPOCHREALTIME
    "$engine" stop --time "$grace" "$prefix-$svc" >/dev/null
    since "$stop_started" >"$work/$svc.stop"
  ) &
  stoppers+=($!)
done
wait "${stoppers[@]}"
failed=0
for svc in "${services[@]}"; do
  "$engine" logs "$prefix-$svc" >"$work/$svc.log" 2>&1
  code=$("$engine" inspect --format '{{.State.ExitCode}}' "$prefix-$svc")
  if [[ $code != 0 ]]; then
    say "FAIL: $svc exited with code $code after SIGTERM (137: killed after the ${grace}s grace)"
    tail -n 20 "$work/$svc.log"
    failed=1
  fi
  "$py" scripts/image_check.py logcheck --service "$svc" "$work/$svc.log" >"$work/$svc.check" || {
    say "FAIL: $svc's log"
    failed=1
  }
done
((failed == 0)) || exit 1

# 7. Summary.
echo
echo "Image test passed: $IMAGE built with $engine"
printf '  %-28s %s\n' "image size" "$((image_bytes / 1000000)) MB" \
  "build (scripts/image.sh)" "${build_seconds}s" \
  "accolade migrate" "${migrate_seconds}s"
printf '  %-14s %-9s %-17s %-10s %s\n' service SERVING SIGTERM memory log
for svc in "${services[@]}"; do
  serving=$(awk -v s="$svc" '$1 == s { print $2 }' "$work/serving.txt")
  mem=$(awk -v c="$prefix-$svc" '$1 == c { print $2 }' <<<"$memory")
  printf '  %-14s %-9s %-17s %-10s %s\n' "$svc" "${serving}s" "exit 0 in $(cat "$work/$svc.stop")s" \
    "${mem:--}" "$(cut -d' ' -f2- "$work/$svc.check")"
done
echo "  total: $(since "$test_started")s"
