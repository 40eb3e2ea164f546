"""`accolade up`: the embedded servers, migrations and five service processes, supervised."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from accolade import catalog
from accolade.gateway import _identity
from accolade.local.console import SampleDesktop
from accolade.local.demo import AGENTS as DEMO_AGENTS
from accolade.local.embedded import EmbeddedBroker, EmbeddedPostgres
from accolade.runtime import admin, identity
from accolade.runtime.settings import CONSOLE_PORT, SERVICE_PORTS, Settings, Topics

log = logging.getLogger(__name__)

# Where `accolade up` writes its database URL, under its data directory, for the commands
# that reach the local database (`accolade dead-letters`).
URL_FILE = "database.url"
# The local tenant `accolade up` makes, and where it keeps that tenant's keys (mode 0600),
# for the demo and the commands run beside it.
LOCAL_TENANT = "local"
ADMIN_KEY_FILE = "admin.key"
# The sample agent desktop `accolade up` serves, with the console card in it.
SAMPLE_DESKTOP_PORT = 8089

INTEGRATION_KEY_FILE = "integration.key"
# Set in each service's environment: the service exits when this process does.
PARENT_VARIABLE = "ACCOLADE_LOCAL_PARENT_PID"
_PR_SET_PDEATHSIG = 1


def exit_with_parent(env: Mapping[str, str]) -> None:
    """In a service started by `accolade up`: get SIGTERM when `accolade up` dies.

    Called by the service itself after it started, not between fork and exec: code run
    there in a process with gRPC's threads can deadlock the child before it ever starts.
    """
    parent = env.get(PARENT_VARIABLE)
    if not parent:
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != int(parent):
        os.kill(os.getpid(), signal.SIGTERM)  # the parent died before we asked to follow it


@dataclass(frozen=True)
class Endpoint:
    """Where one service listens."""

    service: str
    grpc_port: int
    metrics_port: int
    # The gateway's agent console (HTTP); 0 for the other services.
    console_port: int = 0


def endpoints(port_offset: int = 0) -> list[Endpoint]:
    """The services' ports, the design's defaults shifted by `port_offset`."""
    return [
        Endpoint(
            n,
            g + port_offset,
            m + port_offset,
            CONSOLE_PORT + port_offset if n == "gateway" else 0,
        )
        for n, (g, m) in SERVICE_PORTS.items()
    ]


def platform_env(eps: list[Endpoint]) -> dict[str, str]:
    """Settings that tell a service where the others listen (the gateway's console reads
    achievements)."""
    by_name = {e.service: e for e in eps}
    return {"ACCOLADE_ACHIEVEMENTS_ADDRESS": f"127.0.0.1:{by_name['achievements'].grpc_port}"}


def service_env(
    database_url: str, bootstrap: str, endpoint: Endpoint, extra: dict[str, str] | None = None
) -> dict[str, str]:
    """The environment of one service process."""
    return {
        **os.environ,
        "ACCOLADE_DATABASE_URL": database_url,
        "ACCOLADE_KAFKA_BOOTSTRAP": bootstrap,
        "ACCOLADE_GRPC_HOST": "127.0.0.1",
        "ACCOLADE_GRPC_PORT": str(endpoint.grpc_port),
        "ACCOLADE_METRICS_PORT": str(endpoint.metrics_port),
        "ACCOLADE_CONSOLE_PORT": str(endpoint.console_port),
        PARENT_VARIABLE: str(os.getpid()),
        **(extra or {}),
    }


def start_service(env: dict[str, str], service: str, log_dir: Path) -> subprocess.Popen[bytes]:
    """Starts `accolade serve <service>` as a child process logging to `log_dir`."""
    with open(log_dir / f"{service}.log", "ab") as out:
        return subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "accolade.cli", "serve", service],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            # A session of its own: Ctrl-C reaches only `accolade up`, which then stops the
            # services before the broker and the database, so their last flush can land.
            start_new_session=True,
        )


def stop_processes(processes: dict[str, subprocess.Popen[bytes]], timeout: float = 15.0) -> None:
    """SIGTERM every process, then SIGKILL what is still there after `timeout`."""
    for p in processes.values():
        if p.poll() is None:
            p.terminate()
    deadline = time.monotonic() + timeout
    for name, p in processes.items():
        try:
            p.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop in time; killing it", name)
            p.kill()
            p.wait()


async def wait_serving(port: int, service_name: str, within: float) -> None:
    """Waits until the gRPC health of `service_name` on `port` says SERVING.

    Raises:
        TimeoutError: it did not within `within` seconds.
    """
    deadline = time.monotonic() + within
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while True:
            with contextlib.suppress(grpc.aio.AioRpcError):
                reply = await stub.Check(
                    health_pb2.HealthCheckRequest(service=service_name), timeout=1
                )
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{service_name} on port {port} not SERVING after {within}s")
            await asyncio.sleep(0.1)


async def prepare(
    database_url: str, bootstrap: str, namespace: str = "accolade", partitions: int = 3
) -> None:
    """Creates topics and migrates every schema."""
    settings = Settings(
        service="gateway",
        database_url=database_url,
        kafka_bootstrap=bootstrap,
        topics=Topics(namespace),
        topic_partitions=partitions,
    )
    definitions = [catalog.load(n) for n in catalog.NAMES]
    await admin.migrate(database_url, definitions)
    await admin.create_topics(settings, definitions)


async def local_keys(
    database_url: str, data_dir: Path, namespace: str = "accolade"
) -> dict[str, str]:
    """Makes the local tenant, and an admin and an integration key unless the data
    directory holds working ones; returns {file name: key}."""
    topic = Topics(namespace).topic("identity")
    conn = await asyncpg.connect(database_url, server_settings={"search_path": "gateway"})
    try:
        if not await conn.fetchval("SELECT true FROM tenants WHERE tenant_id = $1", LOCAL_TENANT):
            await _identity.create_tenant(conn, topic, LOCAL_TENANT, "Local contact center")
        live = {k.key_id for k in await _identity.list_keys(conn, LOCAL_TENANT) if not k.revoked_at}
        keys: dict[str, str] = {}
        for name, role in (
            (ADMIN_KEY_FILE, identity.ADMIN),
            (INTEGRATION_KEY_FILE, identity.INTEGRATION),
        ):
            path = data_dir / name
            token = path.read_text().strip() if path.exists() else ""
            if identity.key_id_of(token) in live:
                keys[name] = token
                continue
            _, token = await _identity.create_key(
                conn, topic, LOCAL_TENANT, role, label="accolade up"
            )
            path.touch(mode=0o600)
            path.write_text(token + "\n")
            keys[name] = token
    finally:
        await conn.close()
    return keys


async def wait_keys_known(eps: list[Endpoint], count: int, within: float = 30) -> None:
    """Waits until every service knows at least `count` keys that are not revoked (its
    `accolade_<service>_api_keys` gauge), as after a start on an empty broker, which the
    gateway fills again from its store.

    Raises:
        TimeoutError: some service did not within `within` seconds.
    """
    deadline = time.monotonic() + within
    for e in eps:
        url = f"http://127.0.0.1:{e.metrics_port}/metrics"
        pattern = re.compile(rf"^accolade_{e.service}_api_keys ([0-9.e+]+)$", re.MULTILINE)
        while True:
            with contextlib.suppress(OSError):
                text = await asyncio.to_thread(scrape, url)
                if (m := pattern.search(text)) and float(m.group(1)) >= count:
                    break
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{e.service} did not learn the tenants' keys within {within:g} s"
                )
            await asyncio.sleep(0.1)


def scrape(url: str) -> str:
    """The text of a service's /metrics endpoint."""
    with urllib.request.urlopen(url, timeout=5) as reply:  # noqa: S310 - our own endpoint
        return str(reply.read().decode())


async def wait_all_serving(eps: list[Endpoint], within: float) -> None:
    """Waits for every service's health to say SERVING."""
    await asyncio.gather(
        *(wait_serving(e.grpc_port, catalog.load(e.service).grpc_service, within) for e in eps)
    )


async def _start_or_give_up(
    eps: list[Endpoint],
    processes: dict[str, subprocess.Popen[bytes]],
    stop: threading.Event,
    log_dir: Path,
    within: float = 60,
) -> bool:
    """Waits for every service to be SERVING; gives up on Ctrl-C or a service that exits."""
    waiting = asyncio.create_task(wait_all_serving(eps, within))
    try:
        while not waiting.done():
            dead = [n for n, p in processes.items() if p.poll() is not None]
            if dead:
                log.error("%s exited while starting; see %s", ", ".join(dead), log_dir)
                return False
            if stop.is_set():
                return False
            await asyncio.wait({waiting}, timeout=0.2)
        waiting.result()
        return True
    finally:
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)


def up(data_dir: Path, kafka_port: int, port_offset: int) -> int:
    """Runs everything until Ctrl-C or SIGTERM, then stops everything it started."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    started = time.monotonic()
    log_dir = data_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    postgres = EmbeddedPostgres(data_dir / "postgres")
    broker = EmbeddedBroker(kafka_port, log_dir / "broker.log")
    processes: dict[str, subprocess.Popen[bytes]] = {}
    eps = endpoints(port_offset)
    desktop: SampleDesktop | None = None
    try:
        postgres.start()
        (data_dir / URL_FILE).write_text(postgres.url + "\n")
        broker.start()
        log.info("PostgreSQL at %s, broker at %s", postgres.url, broker.bootstrap)
        asyncio.run(prepare(postgres.url, broker.bootstrap))
        keys = asyncio.run(local_keys(postgres.url, data_dir))
        for e in eps:
            processes[e.service] = start_service(
                service_env(postgres.url, broker.bootstrap, e, platform_env(eps)),
                e.service,
                log_dir,
            )
        if not asyncio.run(_start_or_give_up(eps, processes, stop, log_dir)):
            return 1
        asyncio.run(wait_keys_known(eps, len(keys)))
        gateway = next(e for e in eps if e.service == "gateway")
        desktop = SampleDesktop(
            f"127.0.0.1:{gateway.grpc_port}",
            f"http://127.0.0.1:{gateway.console_port}",
            keys[INTEGRATION_KEY_FILE],
            DEMO_AGENTS,
            port=SAMPLE_DESKTOP_PORT + port_offset,
        )
        desktop.start()
        print(f"\nAccolade is up in {time.monotonic() - started:.1f}s. Logs in {log_dir}.\n")
        print(f"  {'service':<14}{'gRPC':<18}metrics")
        for e in eps:
            print(
                f"  {e.service:<14}127.0.0.1:{e.grpc_port:<8}http://127.0.0.1:{e.metrics_port}/metrics"
            )
        print(f"  {'kafka':<14}{broker.bootstrap}\n  {'postgres':<14}{postgres.url}\n")
        print(f"  Tenant {LOCAL_TENANT!r}; its keys (also in {data_dir}):")
        print(f"  {'admin':<14}{keys[ADMIN_KEY_FILE]}")
        print(f"  {'integration':<14}{keys[INTEGRATION_KEY_FILE]}\n")
        print(f"  Agent console card: http://127.0.0.1:{gateway.console_port}/console/v1/card.js")
        print(
            f"  Sample agent desktop, to watch the demo's badges arrive live:\n    {desktop.url()}\n"
        )
        print("Try `accolade demo` in another terminal. Ctrl-C stops everything.")
        sys.stdout.flush()
        while not stop.wait(0.5):
            dead = [n for n, p in processes.items() if p.poll() is not None]
            if dead:
                log.error("%s exited; stopping (see %s)", ", ".join(dead), log_dir)
                return 1
    except TimeoutError as exc:
        log.error("%s (see logs in %s)", exc, log_dir)  # noqa: TRY400 - the cause is in the service logs
        return 1
    else:
        return 0
    finally:
        log.info("stopping services")
        if desktop is not None:
            desktop.close()
        stop_processes(processes)
        broker.stop()
        postgres.stop()
        (data_dir / URL_FILE).unlink(missing_ok=True)
        log.info("stopped")
