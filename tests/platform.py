"""The whole platform as `accolade up` runs it: five service processes on real servers."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import re
import signal
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import asyncpg
import grpc
from aiokafka import AIOKafkaConsumer

from accolade import catalog, clients, testing
from accolade.gateway import _identity
from accolade.local.embedded import free_port
from accolade.local.stack import (
    Endpoint,
    platform_env,
    prepare,
    scrape,
    service_env,
    start_service,
    stop_processes,
    wait_all_serving,
    wait_keys_known,
)
from accolade.runtime import identity
from accolade.runtime.settings import Settings, Topics

# Re-exported: the system tests build their events with the services' own builder.
from accolade.testing import BASICS, program_request
from accolade.testing import interaction as interaction
from accolade.v1 import (
    achievements_service_pb2,
    achievements_service_pb2_grpc,
    challenges_service_pb2,
    challenges_service_pb2_grpc,
    envelope_pb2,
    feedback_service_pb2,
    feedback_service_pb2_grpc,
    gateway_service_pb2,
    gateway_service_pb2_grpc,
    leaderboards_service_pb2,
    leaderboards_service_pb2_grpc,
)


@dataclasses.dataclass
class Platform:
    """Five service processes, their ports, and clients for each."""

    database_url: str
    bootstrap: str
    namespace: str
    log_dir: Path
    partitions: int = 2
    # Tests check health often to get on quickly; the default is once a second.
    health_interval: float = 0.2
    # Settings every service is started with, beside the ones above.
    extra_env: dict[str, str] = dataclasses.field(default_factory=dict)
    # The tenants made before the services start, each with an admin and an integration
    # key; the clients present the admin key of the tenant a request names.
    tenants: tuple[str, ...] = ()
    # The tenants' lateness (the gateway's default of 72 hours when None).
    lateness_seconds: int | None = None
    admin_keys: dict[str, str] = dataclasses.field(default_factory=dict)
    integration_keys: dict[str, str] = dataclasses.field(default_factory=dict)
    endpoints: dict[str, Endpoint] = dataclasses.field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = dataclasses.field(default_factory=dict)
    channels: dict[str, grpc.aio.Channel] = dataclasses.field(default_factory=dict)

    def env(self, service: str) -> dict[str, str]:
        return service_env(
            self.database_url,
            self.bootstrap,
            self.endpoints[service],
            {
                "ACCOLADE_TOPIC_NAMESPACE": self.namespace,
                "ACCOLADE_TOPIC_PARTITIONS": str(self.partitions),
                "ACCOLADE_HEALTH_INTERVAL_SECONDS": str(self.health_interval),
                **platform_env(list(self.endpoints.values())),
                **self.extra_env,
            },
        )

    async def start(self) -> None:
        """Creates topics, migrates, starts every service and waits until all are SERVING."""
        for name in catalog.NAMES:
            console = free_port() if name == "gateway" else 0
            self.endpoints[name] = Endpoint(name, free_port(), free_port(), console)
        await prepare(self.database_url, self.bootstrap, self.namespace, self.partitions)
        for tenant in self.tenants:
            await self._make_tenant(tenant)
        for name in catalog.NAMES:
            self.processes[name] = start_service(self.env(name), name, self.log_dir)
        await self.wait_serving(catalog.NAMES)
        await self.keys_known(2 * len(self.tenants))
        for name, e in self.endpoints.items():
            self.channels[name] = clients.channel(
                f"127.0.0.1:{e.grpc_port}",
                testing.keys_by_tenant(self.admin_keys, self.tenants[0] if self.tenants else ""),
            )

    async def add_tenant(self, tenant: str) -> None:
        """Makes a tenant with an admin and an integration key once the platform runs, and
        waits until every service knows them."""
        await self._make_tenant(tenant)
        await self.keys_known(len(self.admin_keys) + len(self.integration_keys))

    async def _make_tenant(self, tenant: str) -> None:
        """Makes a tenant in the gateway's store, with an admin and an integration key."""
        async with self._gateway_store() as (conn, topic):
            lateness = self.lateness_seconds or _identity.DEFAULT_LATENESS
            await _identity.create_tenant(conn, topic, tenant, tenant, lateness=lateness)
        self.admin_keys[tenant] = await self.make_key(tenant, identity.ADMIN)
        self.integration_keys[tenant] = await self.make_key(tenant, identity.INTEGRATION)

    async def make_key(self, tenant: str, role: int, **scope: str) -> str:
        """Makes a key of a tenant in the gateway's store; returns its token."""
        async with self._gateway_store() as (conn, topic):
            _, token = await _identity.create_key(conn, topic, tenant, role, **scope)
        return token

    async def revoke(self, token: str) -> None:
        """Revokes a key in the gateway's store."""
        key_id = identity.key_id_of(token)
        assert key_id is not None, "not a key"
        async with self._gateway_store() as (conn, topic):
            await _identity.revoke_key(conn, topic, key_id)

    @contextlib.asynccontextmanager
    async def _gateway_store(self) -> AsyncIterator[tuple[asyncpg.Connection, str]]:
        conn = await asyncpg.connect(self.database_url, server_settings={"search_path": "gateway"})
        try:
            yield conn, Topics(self.namespace).topic("identity")
        finally:
            await conn.close()

    async def keys_known(self, count: int, services: Iterable[str] = catalog.NAMES) -> None:
        """Waits until every service knows at least `count` keys that are not revoked."""
        await wait_keys_known([self.endpoints[s] for s in services], count)

    async def wait_serving(self, names: Iterable[str], within: float = 60) -> None:
        await wait_all_serving([self.endpoints[n] for n in names], within)

    def kill(self, service: str) -> None:
        """SIGKILL: no shutdown code runs."""
        process = self.processes[service]
        process.send_signal(signal.SIGKILL)
        process.wait()

    async def restart(self, service: str) -> None:
        """Starts a killed or stopped service again on the same ports."""
        self.processes[service] = start_service(self.env(service), service, self.log_dir)
        await self.wait_serving([service])

    async def close(self) -> None:
        for channel in self.channels.values():
            await channel.close()
        stop_processes(self.processes)

    def settings(self, service: str) -> Settings:
        """The settings a service runs with, as far as the test helpers need them."""
        return Settings(
            service=service,
            database_url=self.database_url,
            kafka_bootstrap=self.bootstrap,
            topics=Topics(self.namespace),
        )

    async def caught_up(self, *services: str) -> None:
        """Waits until each service's consumers have applied and committed all input so far."""
        for service in services:
            await testing.caught_up(self.settings(service))

    async def published(self, *services: str) -> None:
        """Waits until each service's outbox relay has published every row."""
        for service in services:
            await testing.outbox_published(self.settings(service))

    def metrics(self, service: str) -> str:
        return scrape(f"http://127.0.0.1:{self.endpoints[service].metrics_port}/metrics")

    # Clients.
    @property
    def gateway(self) -> gateway_service_pb2_grpc.GatewayServiceStub:
        return gateway_service_pb2_grpc.GatewayServiceStub(self.channels["gateway"])

    @property
    def feedback(self) -> feedback_service_pb2_grpc.FeedbackServiceStub:
        return feedback_service_pb2_grpc.FeedbackServiceStub(self.channels["feedback"])

    @property
    def achievements(self) -> achievements_service_pb2_grpc.AchievementsServiceStub:
        return achievements_service_pb2_grpc.AchievementsServiceStub(self.channels["achievements"])

    @property
    def challenges(self) -> challenges_service_pb2_grpc.ChallengesServiceStub:
        return challenges_service_pb2_grpc.ChallengesServiceStub(self.channels["challenges"])

    @property
    def leaderboards(self) -> leaderboards_service_pb2_grpc.LeaderboardsServiceStub:
        return leaderboards_service_pb2_grpc.LeaderboardsServiceStub(self.channels["leaderboards"])

    async def apply_program(self, tenant: str, only: Iterable[str] | None = BASICS) -> None:
        """Applies the starter program's badges `only` names (all of it with None)."""
        await self.achievements.ApplyProgram(program_request(tenant, only))

    async def badges(self, tenant: str, agent: str) -> list[str]:
        reply = await self.achievements.ListAgentBadges(
            achievements_service_pb2.ListAgentBadgesRequest(tenant_id=tenant, agent_id=agent)
        )
        return [b.badge_id for b in reply.badges]

    async def scores(self, tenant: str, day: str = "") -> dict[str, int]:
        reply = await self.leaderboards.GetLeaderboard(
            leaderboards_service_pb2.GetLeaderboardRequest(tenant_id=tenant, day=day, limit=100)
        )
        return {e.agent_id: int(e.score) for e in reply.entries}

    async def progress(self, tenant: str, agent: str, day: str = "") -> tuple[int, bool]:
        reply = await self.challenges.ListAgentChallenges(
            challenges_service_pb2.ListAgentChallengesRequest(
                tenant_id=tenant, agent_id=agent, day=day
            )
        )
        (challenge,) = reply.challenges
        return challenge.progress, challenge.completed

    async def survey(self, tenant: str, agent: str, csat: int) -> None:
        await self.feedback.SubmitSurvey(
            feedback_service_pb2.SubmitSurveyRequest(
                tenant_id=tenant,
                agent_id=agent,
                survey_id=str(uuid.uuid4()),
                interaction_id=f"i-{uuid.uuid4().hex[:8]}",
                csat=csat,
            )
        )

    async def publish(self, events: list[envelope_pb2.Envelope]) -> list[int]:
        reply = await self.gateway.PublishEvents(
            gateway_service_pb2.PublishEventsRequest(events=events), timeout=30
        )
        return [r.status for r in reply.results]


async def eventually(check, within: float = 30.0, every: float = 0.2):  # type: ignore[no-untyped-def]
    """Polls the async `check` until it returns a truthy value; returns the last value."""
    deadline = time.monotonic() + within
    while True:
        value = await check()
        if value or time.monotonic() > deadline:
            return value
        await asyncio.sleep(every)


async def read_all(
    bootstrap: str, topic: str, idle: float = 1.5
) -> list[tuple[bytes, dict[str, bytes]]]:
    """Every message on `topic` from the beginning, with its headers."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    out: list[tuple[bytes, dict[str, bytes]]] = []
    try:
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < idle:
            batch = await consumer.getmany(timeout_ms=300)
            for records in batch.values():
                out.extend((r.value, dict(r.headers)) for r in records)
                quiet_since = time.monotonic()
    finally:
        await consumer.stop()
    return out


def counter(metrics: str, name: str) -> float:
    """The sum of every sample of `name` in a Prometheus text exposition."""
    pattern = re.compile(rf"^{re.escape(name)}(?:{{[^}}]*}})? ([0-9.e+]+)$", re.MULTILINE)
    return sum(float(v) for v in pattern.findall(metrics))
