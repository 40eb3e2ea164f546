"""Fixtures shared by every test: a real PostgreSQL, a real Kafka-protocol broker, real gRPC.

Where they come from, in order: addresses in ACCOLADE_TEST_DATABASE_URL and
ACCOLADE_TEST_KAFKA_BOOTSTRAP; containers, when a Docker engine answers; otherwise the
embedded PostgreSQL (pgserver) and broker (tansu) that `accolade up` uses.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import os
import shutil
import subprocess
import uuid
import warnings
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import grpc
import pytest

from accolade import catalog, clients, testing
from accolade.local.embedded import EmbeddedBroker, EmbeddedPostgres
from accolade.local.stack import wait_serving
from accolade.runtime import admin
from accolade.runtime.server import serve
from accolade.runtime.settings import Settings, Topics

# The tenants the tests of one service use; each gets an admin key before it starts.
TEST_TENANTS = ("acme", "globex")


@dataclasses.dataclass(frozen=True)
class Infra:
    """Where the tests' PostgreSQL and broker are."""

    database_url: str
    bootstrap: str

    def database(self, name: str) -> str:
        """The URL of database `name` on the same server."""
        base, _, query = self.database_url.partition("?")
        base = base.rsplit("/", 1)[0]
        return f"{base}/{name}" + (f"?{query}" if query else "")


def _docker_answers() -> bool:
    if not (os.environ.get("DOCKER_HOST") or Path("/var/run/docker.sock").exists()):
        return False
    import docker

    # A failed probe leaves the client's socket to the garbage collector; collect it here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            client = docker.from_env()
            client.ping()
            client.close()
        except Exception:  # noqa: BLE001 - any failure means: no usable engine here
            return False
        finally:
            gc.collect()
    return True


@pytest.fixture(scope="session")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infra]:
    """One PostgreSQL server and one broker for the whole session."""
    url, bootstrap = (
        os.environ.get("ACCOLADE_TEST_DATABASE_URL"),
        os.environ.get("ACCOLADE_TEST_KAFKA_BOOTSTRAP"),
    )
    if url and bootstrap:
        yield Infra(url, bootstrap)
        return
    if _docker_answers():
        from testcontainers.kafka import KafkaContainer
        from testcontainers.postgres import PostgresContainer

        with (
            PostgresContainer("postgres:16-alpine", driver=None) as pg,
            KafkaContainer().with_kraft() as kafka,
        ):
            yield Infra(pg.get_connection_url(), kafka.get_bootstrap_server())
        return
    postgres = EmbeddedPostgres(tmp_path_factory.mktemp("pg") / "data")
    broker = EmbeddedBroker()
    postgres.start()
    broker.start()
    try:
        yield Infra(postgres.url, broker.bootstrap)
    finally:
        broker.stop()
        postgres.stop()


@pytest.fixture
async def database_url(infra: Infra) -> AsyncIterator[str]:
    """A new, empty database for one test, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin_conn = await asyncpg.connect(infra.database_url)
    try:
        await admin_conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin_conn.close()
    yield infra.database(name)
    admin_conn = await asyncpg.connect(infra.database_url)
    try:
        await admin_conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin_conn.close()


@pytest.fixture
def namespace() -> str:
    """A topic namespace of the test's own, so tests never see each other's messages."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def settings_for(infra: Infra, database_url: str, namespace: str):  # type: ignore[no-untyped-def]
    """Builds the settings of a service under test: fresh database, own topics, free ports."""

    def build(service: str, **overrides: object) -> Settings:
        settings = Settings(
            service=service,
            database_url=database_url,
            kafka_bootstrap=infra.bootstrap,
            grpc_host="127.0.0.1",
            grpc_port=0,
            metrics_port=0,
            topics=Topics(namespace),
            topic_partitions=2,
            shutdown_grace_seconds=2.0,
            health_interval_seconds=0.2,
        )
        return dataclasses.replace(settings, **overrides)  # type: ignore[arg-type]

    return build


@dataclasses.dataclass
class RunningService:
    """A service started in the test's event loop, reachable over a real socket."""

    name: str
    settings: Settings
    grpc_port: int
    metrics_port: int
    channel: grpc.aio.Channel
    stop: asyncio.Event
    task: asyncio.Task[None]
    # An admin key of each test tenant; `channel` presents the one of the request's tenant.
    keys: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def metrics_url(self) -> str:
        """The service's Prometheus endpoint."""
        return f"http://127.0.0.1:{self.metrics_port}/metrics"


@pytest.fixture
async def start_service(settings_for):  # type: ignore[no-untyped-def]
    """Starts services in-process (migrated, topics created) and stops them after the test."""
    running: list[RunningService] = []
    keys: dict[str, str] = {}

    async def start(
        name: str, *, lateness_seconds: int = 72 * 3600, **overrides: object
    ) -> RunningService:
        """Args:
        lateness_seconds: the test tenants' lateness, set by the first service started
            (tests of events long past give one that still counts them).
        """
        settings: Settings = settings_for(name, **overrides)
        definition = catalog.load(name)
        await admin.migrate(settings.database_url, [definition])
        await admin.create_topics(settings, [catalog.load(n) for n in catalog.NAMES])
        # Granted before the service starts, so it knows them once SERVING; the topics are
        # the test's own, so a second service of the test finds them there too.
        if not keys:
            for tenant in TEST_TENANTS:
                keys[tenant] = await testing.grant(
                    settings, tenant, lateness_seconds=lateness_seconds
                )
        stop = asyncio.Event()
        bound: asyncio.Future[tuple[int, int]] = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(serve(definition, settings, stop, bound, handle_signals=False))
        done, _ = await asyncio.wait({task, bound}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            task.result()
        grpc_port, metrics_port = bound.result()
        await wait_serving(grpc_port, definition.grpc_service, 30)
        service = RunningService(
            name,
            settings,
            grpc_port,
            metrics_port,
            clients.channel(
                f"127.0.0.1:{grpc_port}", testing.keys_by_tenant(keys, TEST_TENANTS[0])
            ),
            stop,
            task,
            keys,
        )
        running.append(service)
        return service

    yield start
    for service in reversed(running):
        service.stop.set()
        await service.channel.close()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(service.task, 30)


@pytest.fixture
def repo_root() -> Path:
    """The repository's top directory."""
    return Path(__file__).parent


def installed_tool(script: str, *commands: str) -> dict[str, str]:
    """Runs an install script of scripts/ and returns the paths of `commands`.

    Where the tool cannot be installed (no root for apt, say) the test is skipped, except
    in CI, where everything must run.
    """
    root = Path(__file__).parent
    install = subprocess.run(
        [str(root / "scripts" / script)], capture_output=True, text=True, check=False
    )
    found = {c: shutil.which(c) for c in commands}
    if install.returncode != 0 or not all(found.values()):
        message = f"scripts/{script} could not install {', '.join(commands)}:\n{install.stdout}{install.stderr}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return {c: str(p) for c, p in found.items()}


@pytest.fixture(scope="session")
def prometheus_tools() -> dict[str, str]:
    """Paths of `prometheus` and `promtool`, installed from Debian's packages when missing."""
    return installed_tool("install-prometheus.sh", "prometheus", "promtool")
