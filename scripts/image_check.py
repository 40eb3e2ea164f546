"""Helpers of the image test (scripts/image-test.sh): servers, readiness and log checks.

Subcommands, all run with the project's .venv/bin/python:

  servers --work DIR --env-file FILE
      Starts PostgreSQL listening on TCP 127.0.0.1 and the embedded Kafka-protocol broker,
      both on free ports, writes ACCOLADE_DATABASE_URL and ACCOLADE_KAFKA_BOOTSTRAP to FILE
      once both accept connections, and stops them on SIGTERM or SIGINT.
  ports N
      Prints N distinct free TCP ports on loopback.
  serving --engine ENGINE --within SECONDS SERVICE:GRPC_PORT:METRICS_PORT:CONTAINER:STARTED...
      Waits until each service reports SERVING through gRPC health, for both "" and its
      accolade.v1 service name, and serves its metrics; prints "SERVICE SECONDS", the
      time from STARTED (a Unix time) to SERVING. Fails at once if a container exits.
  logcheck --service SERVICE FILE
      Checks that every line of a container's log is a JSON object from SERVICE and that
      the service logged "started" and "stopped".
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from accolade import catalog
from accolade.local.embedded import EmbeddedBroker, wait_for_port

# As pgserver itself does: PostgreSQL refuses to run as root, so root runs it as this user.
_PG_SYSTEM_USER = "pgserver"


class _Postgres:
    """PostgreSQL 16 from the pgserver wheel, listening on 127.0.0.1:port (trust auth)."""

    def __init__(self, datadir: Path, port: int) -> None:
        # pgserver wants a private runtime directory as soon as it is imported.
        runtime = datadir.parent / "runtime"
        runtime.mkdir(mode=0o700, exist_ok=True)
        os.environ["XDG_RUNTIME_DIR"] = str(runtime)
        from pgserver import _commands

        self.datadir = datadir
        self.port = port
        self._bin = Path(_commands.POSTGRES_BIN_PATH)
        self._user: str | None = None
        self._started = False

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run(  # noqa: S603 - pgserver's own binaries, fixed arguments
            [str(self._bin / tool), "-D", str(self.datadir), *args],
            check=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            user=self._user,
            cwd=self.datadir.parent,
        )

    def start(self) -> None:
        self.datadir.mkdir(mode=0o700)
        if os.geteuid() == 0:
            from pgserver import utils

            utils.ensure_user_exists(_PG_SYSTEM_USER)
            entry = pwd.getpwnam(_PG_SYSTEM_USER)
            # The postgres user must reach the binaries and the data directory.
            utils.ensure_prefix_permissions(self._bin)
            utils.ensure_prefix_permissions(self.datadir)
            os.chown(self.datadir, entry.pw_uid, entry.pw_gid)
            self._user = _PG_SYSTEM_USER
        self._run("initdb", "--auth=trust", "--encoding=utf8", "-U", "postgres")
        self._started = True
        self._run(
            "pg_ctl",
            "-w",
            "-l",
            str(self.datadir / "postgres.log"),
            "-o",
            f"-h 127.0.0.1 -p {self.port} -k {self.datadir}",
            "start",
        )
        wait_for_port(self.port, 30)

    def stop(self) -> None:
        if self._started:
            self._started = False
            with contextlib.suppress(subprocess.CalledProcessError):
                self._run("pg_ctl", "-w", "-m", "fast", "stop")


def _free_ports(count: int) -> list[int]:
    # Held open together, so the ports differ from one another.
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _servers(work: Path, env_file: Path) -> int:
    stop = False

    def on_signal(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    pg_port, kafka_port = _free_ports(2)
    postgres = _Postgres(work / "postgres", pg_port)
    broker = EmbeddedBroker(kafka_port, work / "broker.log")
    try:
        postgres.start()
        broker.start()
        # For the shell's clean-up, should this process die without stopping the broker.
        (work / "broker.pid").write_text(f"{broker.pid}\n")
        tmp = env_file.with_suffix(".tmp")
        tmp.write_text(
            f"ACCOLADE_DATABASE_URL={postgres.url}\nACCOLADE_KAFKA_BOOTSTRAP={broker.bootstrap}\n"
        )
        tmp.rename(env_file)
        while not stop:
            time.sleep(0.2)
    finally:
        broker.stop()
        postgres.stop()
    return 0


def _running(engine: str, container: str) -> bool:
    result = subprocess.run(  # noqa: S603 - the container engine, fixed arguments
        [engine, "inspect", "--format", "{{.State.Running}}", container],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() == "true"


def _metrics_ok(port: int, service: str) -> bool:
    url = f"http://127.0.0.1:{port}/metrics"
    with (
        contextlib.suppress(OSError),
        urllib.request.urlopen(url, timeout=1) as reply,
    ):
        return f"accolade_{service}_" in reply.read().decode()
    return False


async def _wait_serving(engine: str, spec: str, within: float) -> tuple[str, float]:
    service, grpc_port, metrics_port, container, started = spec.split(":", 4)
    names = ["", catalog.load(service).grpc_service]
    deadline = time.monotonic() + within
    async with grpc.aio.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while True:
            serving = True
            for name in names:
                try:
                    reply = await stub.Check(health_pb2.HealthCheckRequest(service=name), timeout=1)
                except grpc.aio.AioRpcError:
                    serving = False
                    break
                serving = serving and reply.status == health_pb2.HealthCheckResponse.SERVING
            if serving:
                elapsed = time.time() - float(started)
                if await asyncio.to_thread(_metrics_ok, int(metrics_port), service):
                    return service, elapsed
            if not await asyncio.to_thread(_running, engine, container):
                raise RuntimeError(f"{service}: container {container} exited before SERVING")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{service}: not SERVING on port {grpc_port} after {within}s")
            await asyncio.sleep(0.1)


async def _serving(engine: str, specs: list[str], within: float) -> int:
    engine_path = shutil.which(engine) or engine
    results = await asyncio.gather(
        *(_wait_serving(engine_path, spec, within) for spec in specs), return_exceptions=True
    )
    failed = False
    for spec, result in zip(specs, results, strict=True):
        if isinstance(result, BaseException):
            print(f"{spec.split(':', 1)[0]} FAILED: {result}", file=sys.stderr)
            failed = True
        else:
            print(f"{result[0]} {result[1]:.2f}")
    return 1 if failed else 0


def _logcheck(service: str, path: Path) -> int:
    problems: list[str] = []
    messages: list[str] = []
    levels: dict[str, int] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            problems.append(f"line {number} is not JSON: {line[:200]}")
            continue
        if not isinstance(record, dict) or record.get("service") != service:
            problems.append(f"line {number} is not a log record of {service}: {line[:200]}")
            continue
        messages.append(str(record.get("msg")))
        level = str(record.get("level"))
        levels[level] = levels.get(level, 0) + 1
    problems += [f"no {m!r} line" for m in ("started", "stopped") if m not in messages]
    if messages and messages[-1] != "stopped":
        problems.append(f"the last line is {messages[-1]!r}, not 'stopped'")
    for problem in problems:
        print(f"{service}: {problem}", file=sys.stderr)
    counts = ", ".join(f"{n} {level}" for level, n in sorted(levels.items()))
    print(f"{service}: {len(messages)} JSON lines ({counts})")
    return 1 if problems else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("servers")
    p.add_argument("--work", type=Path, required=True)
    p.add_argument("--env-file", type=Path, required=True)
    p = sub.add_parser("ports")
    p.add_argument("count", type=int)
    p = sub.add_parser("serving")
    p.add_argument("--engine", required=True)
    p.add_argument("--within", type=float, default=60.0)
    p.add_argument("specs", nargs="+")
    p = sub.add_parser("logcheck")
    p.add_argument("--service", required=True)
    p.add_argument("file", type=Path)
    args = parser.parse_args()

    if args.command == "servers":
        return _servers(args.work, args.env_file)
    if args.command == "ports":
        print(*_free_ports(args.count))
        return 0
    if args.command == "serving":
        return asyncio.run(_serving(args.engine, args.specs, args.within))
    return _logcheck(args.service, args.file)


if __name__ == "__main__":
    sys.exit(main())
