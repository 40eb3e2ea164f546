"""The gateway's gRPC service."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import grpc

from accolade.gateway import _archive, _identity, _intake, _notifications, _roster
from accolade.gateway._console import Console
from accolade.gateway._watch import Hub, Queue
from accolade.runtime import identity, tls
from accolade.runtime.auth import RECHECK_SECONDS, access, caller, still_admitted
from accolade.runtime.errors import AccoladeError, FailedPrecondition
from accolade.runtime.http import HttpServer
from accolade.runtime.identity import AGENT, INTEGRATION, MANAGER
from accolade.runtime.limits import INTAKE
from accolade.runtime.retention import Retention
from accolade.runtime.service import ConsumerSpec, Context, ServiceDefinition
from accolade.runtime.validation import Violations
from accolade.v1 import achievements_service_pb2_grpc as ach_grpc
from accolade.v1 import envelope_pb2
from accolade.v1 import gateway_service_pb2 as pb
from accolade.v1 import gateway_service_pb2_grpc as pb_grpc

log = logging.getLogger(__name__)
# How often a team stream reads its team's members again (and checks its key).
TEAM_REFRESH_SECONDS = RECHECK_SECONDS


class WatcherTooSlow(AccoladeError):
    """The stream's client read too slowly and fell behind; reconnect to continue."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class GatewayServicer(pb_grpc.GatewayServiceServicer):
    """Intake and live streams."""

    def __init__(self, ctx: Context, hub: Hub) -> None:
        self._ctx = ctx
        self._hub = hub
        self._intake = _intake.Intake(ctx.pool, ctx.topic("activity"), ctx.metrics)
        self._accepted = ctx.metrics.counter(
            "events_accepted", "Events accepted by intake, new ones only."
        )

    async def PublishEvents(
        self, request: pb.PublishEventsRequest, context: grpc.aio.ServicerContext
    ) -> pb.PublishEventsResponse:
        results = await self._intake.accept(request.events)
        self._accepted.inc(sum(r.status == pb.EVENT_STATUS_ACCEPTED for r in results))
        return pb.PublishEventsResponse(results=results)

    async def StreamEvents(
        self,
        request_iterator: AsyncIterator[pb.StreamEventsRequest],
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[pb.StreamEventsResponse]:
        async for request in request_iterator:
            results = await self._intake.accept(request.events)
            self._accepted.inc(sum(r.status == pb.EVENT_STATUS_ACCEPTED for r in results))
            yield pb.StreamEventsResponse(results=results)

    async def UpsertAgents(
        self, request: pb.UpsertAgentsRequest, context: grpc.aio.ServicerContext
    ) -> pb.UpsertAgentsResponse:
        return await _roster.upsert(
            self._ctx.pool, self._ctx.topic("roster"), request.tenant_id, request.agents
        )

    async def ExportEvents(
        self, request: pb.ExportEventsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.ExportEventsResponse]:
        v = Violations()
        v.identifier("tenant_id", request.tenant_id)
        for i, t in enumerate(request.topics):
            if t not in _archive.TOPICS:
                v.add(f"topics[{i}]", f"must be one of {', '.join(_archive.TOPICS)}")
        v.check()
        since = request.since.ToDatetime(tzinfo=UTC) if request.HasField("since") else None
        until = request.until.ToDatetime(tzinfo=UTC) if request.HasField("until") else None
        topics = tuple(request.topics) or _archive.TOPICS
        async for page in _archive.export(self._ctx.pool, request.tenant_id, topics, since, until):
            yield pb.ExportEventsResponse(
                events=[pb.ArchivedEvent(topic=t, event=e) for t, e in page]
            )

    async def CreateAgentSession(
        self, request: pb.CreateAgentSessionRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateAgentSessionResponse:
        v = Violations()
        v.identifier("agent_id", request.agent_id)
        ttl = request.ttl_seconds or identity.DEFAULT_SESSION_SECONDS
        if not 60 <= ttl <= identity.MAX_SESSION_SECONDS:
            v.add("ttl_seconds", f"must be 60 to {identity.MAX_SESSION_SECONDS} (0: 3600)")
        v.check()
        tenant = self._ctx.identity.tenant(request.tenant_id)
        if tenant is None or not tenant.session_secret:
            raise FailedPrecondition(
                f"tenant {request.tenant_id!r} has no session secret yet: run "
                "`accolade tenants create` for it again to publish one"
            )
        expires_at = int(time.time()) + ttl
        token = identity.session_token(
            tenant.session_secret,
            request.tenant_id,
            request.agent_id,
            caller.get().key_id,
            expires_at,
        )
        response = pb.CreateAgentSessionResponse(token=token)
        response.expires_at.FromDatetime(datetime.fromtimestamp(expires_at, UTC))
        return response

    async def WatchAgent(
        self, request: pb.WatchAgentRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.WatchAgentResponse]:
        v = Violations()
        v.identifier("tenant_id", request.tenant_id)
        v.identifier("agent_id", request.agent_id)
        if request.HasField("after_sequence") and request.after_sequence < 0:
            v.add("after_sequence", "must not be negative")
        v.check()
        after = request.after_sequence if request.HasField("after_sequence") else None
        async with self._hub.watch(request.tenant_id, request.agent_id, after) as queue:
            while True:
                if item := await self._next(queue, RECHECK_SECONDS, "after_sequence"):
                    yield pb.WatchAgentResponse(event=item[1], sequence=item[0])

    async def WatchTeam(
        self, request: pb.WatchTeamRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.WatchTeamResponse]:
        v = Violations()
        v.identifier("tenant_id", request.tenant_id)
        v.identifier("team_id", request.team_id)
        for agent, sequence in sorted(request.after_sequences.items()):
            v.identifier(f"after_sequences[{agent!r}]", agent)
            if sequence < 0:
                v.add(f"after_sequences[{agent!r}]", "must not be negative")
        v.check()
        tenant, team = request.tenant_id, request.team_id
        async with self._hub.group(tenant) as group:
            members = await _roster.team_members(self._ctx, tenant, team)
            await group.follow(members, dict(request.after_sequences))
            loop = asyncio.get_running_loop()
            refresh = loop.time() + TEAM_REFRESH_SECONDS
            while True:
                if loop.time() >= refresh:
                    # Agents who joined the team since are followed from their latest
                    # notification on; agents who left are no longer sent.
                    await group.follow(await _roster.team_members(self._ctx, tenant, team), {})
                    refresh = loop.time() + TEAM_REFRESH_SECONDS
                item = await self._next(group.queue, refresh - loop.time(), "after_sequences")
                if item is None:
                    continue
                sequence, event = item
                yield pb.WatchTeamResponse(agent_id=event.agent_id, event=event, sequence=sequence)

    async def _next(
        self, queue: Queue, within: float, resume: str
    ) -> tuple[int, envelope_pb2.Envelope] | None:
        """A stream's next notification, or None when none came within `within` seconds;
        either way only while the call's key still stands (a revoked key's stream ends).
        Raises WatcherTooSlow when the stream fell behind."""
        try:
            item = await asyncio.wait_for(queue.get(), within)
        except TimeoutError:
            still_admitted(self._ctx.identity)
            return None
        still_admitted(self._ctx.identity)
        if item is None:
            raise WatcherTooSlow(f"the stream fell behind; reconnect with {resume} to continue")
        return item


async def _build(ctx: Context) -> GatewayServicer:
    async with ctx.pool.acquire() as conn:
        if published := await _identity.publish_session_secrets(conn, ctx.topic("identity")):
            log.info("published tenants' session secrets", extra={"tenants": published})
    hub = Hub(ctx.pool, ctx.metrics)
    # Supervised: if the hub fails it is started again, and the gateway is not SERVING
    # until it follows its partitions again.
    ctx.spawn(hub.run, "watch-hub")
    ctx.ready_checks.append(lambda: hub.ready)
    await _start_console(ctx, hub)
    return GatewayServicer(ctx, hub)


async def _start_console(ctx: Context, hub: Hub) -> None:
    """Serves the agent console over HTTP beside the gRPC API (see `_console.py`)."""
    address = ctx.settings.achievements_address
    credentials = tls.channel_credentials(ctx.settings.tls)
    channel = (
        grpc.aio.insecure_channel(address)
        if credentials is None
        else grpc.aio.secure_channel(address, credentials)
    )
    ctx.on_exit("achievements channel", channel.close)
    console = Console(
        ctx.identity,
        hub,
        ctx.pool,
        ach_grpc.AchievementsServiceStub(channel),  # type: ignore[no-untyped-call]
        ctx.metrics,
    )
    server_tls = tls.load(ctx.settings.tls)
    server = HttpServer(
        console.handle,
        ctx.settings.grpc_host,
        ctx.settings.console_port,
        None if server_tls is None else server_tls.ssl_context(),
    )
    try:
        port = await server.start()
    except OSError as exc:
        raise OSError(
            exc.errno,
            f"the console cannot listen on port {ctx.settings.console_port} ({exc.strerror})",
        ) from exc
    ctx.on_exit("console", server.close)
    log.info("console listening", extra={"console_port": port})


SERVICE = ServiceDefinition(
    name="gateway",
    grpc_service="accolade.v1.GatewayService",
    package="accolade.gateway",
    servicer=_build,
    register=pb_grpc.add_GatewayServiceServicer_to_server,
    # The archive's insert ignores an event it holds: idempotent without the inbox.
    consumers=(
        ConsumerSpec("archive", _archive.TOPICS, _archive.archive_handler, idempotent=True),
        ConsumerSpec("notifications", _notifications.TOPICS, _notifications.notifications_handler),
    ),
    # Idempotency holds for resends within the intake retention.
    retention=(
        Retention("intake_events", "recorded_at", lambda s: s.intake_retention_seconds),
        Retention("notifications", "created_at", lambda s: s.notification_retention_seconds),
    ),
    access={
        "PublishEvents": access(INTEGRATION, tenant=("events.tenant_id",), limit=INTAKE),
        "StreamEvents": access(INTEGRATION, tenant=("events.tenant_id",), limit=INTAKE),
        "UpsertAgents": access(INTEGRATION, limit=INTAKE),
        "WatchAgent": access(AGENT, MANAGER, agent="agent_id"),
        "ExportEvents": access(),
        "CreateAgentSession": access(INTEGRATION),
        "WatchTeam": access(MANAGER, team="team_id"),
    },
    team_of=_roster.team_of,
)
