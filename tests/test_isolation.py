"""Who may call what: every RPC of every service, with every role, for its own tenant and
for another. The RPCs come from the services' own descriptors, so a new RPC without an
expectation here fails this test rather than going unchecked."""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest

from accolade import catalog, clients, programs
from accolade.runtime import auth, identity
from accolade.runtime.identity import ADMIN, AGENT, INTEGRATION, MANAGER, OPS
from accolade.v1 import (
    achievements_service_pb2 as ach,
)
from accolade.v1 import (
    challenges_service_pb2 as chl,
)
from accolade.v1 import (
    feedback_service_pb2 as fb,
)
from accolade.v1 import (
    gateway_service_pb2 as gw,
)
from accolade.v1 import (
    gateway_service_pb2_grpc as gw_grpc,
)
from accolade.v1 import (
    leaderboards_service_pb2 as lb,
)
from tests.platform import Platform, interaction

pytestmark = pytest.mark.system

Code = grpc.StatusCode
ROLES = {"integration": INTEGRATION, "agent": AGENT, "manager": MANAGER, "admin": ADMIN, "ops": OPS}
# The agent of agent keys, in the team of manager keys; OTHER is in another team.
AGENT_ID, TEAM, OTHER = "a1", "t1", "a2"

# Who may call each RPC, written here on its own (not read from the services' code).
EVERYONE_BUT_OPS = {"integration", "agent", "manager", "admin"}
ALLOWED: dict[str, set[str]] = {
    "GatewayService.PublishEvents": {"integration", "admin"},
    "GatewayService.UpsertAgents": {"integration", "admin"},
    "GatewayService.StreamEvents": {"integration", "admin"},
    "GatewayService.WatchAgent": {"agent", "manager", "admin"},
    "GatewayService.ExportEvents": {"admin"},
    "GatewayService.CreateAgentSession": {"integration", "admin"},
    "GatewayService.WatchTeam": {"manager", "admin"},
    "FeedbackService.SubmitSurvey": {"integration", "admin"},
    "AchievementsService.ListAgentBadges": {"agent", "manager", "admin"},
    "AchievementsService.GetAgentProgress": {"agent", "manager", "admin"},
    "AchievementsService.ExplainAward": {"agent", "manager", "admin"},
    "AchievementsService.ListBadgeDefinitions": EVERYONE_BUT_OPS,
    "AchievementsService.GetBadgeDefinition": EVERYONE_BUT_OPS,
    "AchievementsService.GetLevelTable": EVERYONE_BUT_OPS,
    "AchievementsService.ApplyProgram": {"admin"},
    "AchievementsService.ArchiveBadgeDefinition": {"admin"},
    "AchievementsService.Replay": {"admin"},
    "AchievementsService.Backfill": {"admin"},
    "ChallengesService.ListAgentChallenges": {"agent", "admin"},
    "LeaderboardsService.GetLeaderboard": EVERYONE_BUT_OPS,
    "LeaderboardsService.GetAgentRank": {"agent", "manager", "admin"},
    "LeaderboardsService.ListBoards": EVERYONE_BUT_OPS,
    "LeaderboardsService.ApplyBoards": {"admin"},
    "LeaderboardsService.GetLeaderboardBottom": {"manager", "admin"},
    "LeaderboardsService.GetScoreDistribution": EVERYONE_BUT_OPS,
}
# The RPCs that read one agent's data: agent keys only their own, managers their team's.
AGENT_SCOPED = {
    "GatewayService.WatchAgent": True,  # value: whether manager keys may call it
    "GatewayService.WatchTeam": True,  # a1's team is the manager's; a2's is not
    "AchievementsService.ListAgentBadges": True,
    "AchievementsService.GetAgentProgress": True,
    "AchievementsService.ExplainAward": True,
    "ChallengesService.ListAgentChallenges": False,
    "LeaderboardsService.GetAgentRank": True,
}


async def _stream(*requests: Any) -> AsyncIterator[Any]:
    for r in requests:
        yield r


def _since() -> Any:
    r = ach.BackfillRequest()
    r.since.FromDatetime(datetime.now(UTC) - timedelta(days=1))
    return r.since


# A request of each RPC naming tenant `t` and agent `a`; client streams get a factory.
SAMPLES: dict[str, Callable[[str, str], Any]] = {
    "GatewayService.PublishEvents": lambda t, a: gw.PublishEventsRequest(
        events=[interaction(t, a)]
    ),
    "GatewayService.UpsertAgents": lambda t, a: gw.UpsertAgentsRequest(
        tenant_id=t, agents=[gw.AgentProfile(agent_id=a, display_name=a, team_id=TEAM)]
    ),
    "GatewayService.WatchAgent": lambda t, a: gw.WatchAgentRequest(tenant_id=t, agent_id=a),
    "GatewayService.StreamEvents": lambda t, a: (
        lambda: _stream(gw.StreamEventsRequest(events=[interaction(t, a)]))
    ),
    "GatewayService.ExportEvents": lambda t, a: gw.ExportEventsRequest(tenant_id=t),
    "GatewayService.CreateAgentSession": lambda t, a: gw.CreateAgentSessionRequest(
        tenant_id=t, agent_id=a
    ),
    "GatewayService.WatchTeam": lambda t, a: gw.WatchTeamRequest(
        tenant_id=t, team_id=TEAM if a == AGENT_ID else "t2"
    ),
    "FeedbackService.SubmitSurvey": lambda t, a: fb.SubmitSurveyRequest(
        tenant_id=t, agent_id=a, survey_id=str(uuid.uuid4()), interaction_id="i-1", csat=5
    ),
    "AchievementsService.ListAgentBadges": lambda t, a: ach.ListAgentBadgesRequest(
        tenant_id=t, agent_id=a
    ),
    "AchievementsService.GetAgentProgress": lambda t, a: ach.GetAgentProgressRequest(
        tenant_id=t, agent_id=a
    ),
    "AchievementsService.ExplainAward": lambda t, a: ach.ExplainAwardRequest(
        tenant_id=t, agent_id=a, badge_id="first-resolution", tier_id="earned"
    ),
    "AchievementsService.ListBadgeDefinitions": lambda t, a: ach.ListBadgeDefinitionsRequest(
        tenant_id=t
    ),
    "AchievementsService.GetBadgeDefinition": lambda t, a: ach.GetBadgeDefinitionRequest(
        tenant_id=t, badge_id="first-resolution"
    ),
    "AchievementsService.GetLevelTable": lambda t, a: ach.GetLevelTableRequest(tenant_id=t),
    "AchievementsService.ApplyProgram": lambda t, a: ach.ApplyProgramRequest(
        tenant_id=t, badges=programs.starter(t).badges[:1], dry_run=True
    ),
    "AchievementsService.ArchiveBadgeDefinition": lambda t, a: ach.ArchiveBadgeDefinitionRequest(
        tenant_id=t, badge_id="no-such-badge"
    ),
    "AchievementsService.Replay": lambda t, a: lambda: _stream(ach.ReplayRequest(tenant_id=t)),
    "AchievementsService.Backfill": lambda t, a: (
        lambda: _stream(
            ach.BackfillRequest(tenant_id=t, badge_ids=["no-such-badge"], since=_since())
        )
    ),
    "ChallengesService.ListAgentChallenges": lambda t, a: chl.ListAgentChallengesRequest(
        tenant_id=t, agent_id=a
    ),
    "LeaderboardsService.GetLeaderboard": lambda t, a: lb.GetLeaderboardRequest(
        tenant_id=t, limit=5
    ),
    "LeaderboardsService.GetAgentRank": lambda t, a: lb.GetAgentRankRequest(
        tenant_id=t, agent_id=a
    ),
    "LeaderboardsService.ListBoards": lambda t, a: lb.ListBoardsRequest(tenant_id=t),
    "LeaderboardsService.GetLeaderboardBottom": lambda t, a: lb.GetLeaderboardBottomRequest(
        tenant_id=t
    ),
    "LeaderboardsService.GetScoreDistribution": lambda t, a: lb.GetScoreDistributionRequest(
        tenant_id=t
    ),
    "LeaderboardsService.ApplyBoards": lambda t, a: lb.ApplyBoardsRequest(
        tenant_id=t,
        dry_run=True,
        boards=[
            lb.LeaderboardDefinition(
                metadata=ach.ObjectMeta(id="fcr", name="FCR"),
                spec=lb.LeaderboardSpec(event="interaction_completed"),
            )
        ],
    ),
}


def rpcs() -> list[tuple[str, str, str]]:
    """(service, "Service.Method", full method path) of every RPC of every service."""
    out = []
    for name in catalog.NAMES:
        full = catalog.load(name).grpc_service
        for method in auth.methods(full):
            out.append((name, f"{full.rsplit('.', 1)[1]}.{method}", f"/{full}/{method}"))
    return out


class Caller:
    """Calls any RPC by its path with raw protobuf requests, as a client of the service."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform
        self._channels: dict[str, grpc.aio.Channel] = {}

    def channel(self, service: str) -> grpc.aio.Channel:
        if service not in self._channels:
            port = self._platform.endpoints[service].grpc_port
            self._channels[service] = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
        return self._channels[service]

    async def code(self, service: str, rpc: str, path: str, request: Any, key: str | None) -> Code:
        """The status code of one call (OK, or DEADLINE_EXCEEDED for a stream that stays
        open, which means it was let in)."""
        channel = self.channel(service)
        metadata = clients.bearer(key) if key is not None else ()
        kind = _kind(service, path)
        try:
            if kind == "unary_stream":
                call = channel.unary_stream(path, request_serializer=_serialize)(
                    request, metadata=metadata, timeout=1.5
                )
                async for _ in call:
                    pass
            elif kind in ("stream_stream", "stream_unary"):
                # The asyncio client can report INTERNAL instead of the server's status
                # when the server ends a client stream before the client's write lands
                # (grpc/grpc#36066); the blocking client reports the server's status.
                await asyncio.to_thread(self._client_stream, service, path, kind, request, metadata)
            else:
                await channel.unary_unary(path, request_serializer=_serialize)(
                    request, metadata=metadata, timeout=15
                )
        except grpc.RpcError as exc:  # the asyncio client's and the blocking client's
            if exc.code() is Code.NOT_FOUND and not exc.details().startswith("no tenant"):
                return Code.OK  # let in: the named thing does not exist, as expected
            return exc.code()
        return Code.OK

    def _client_stream(
        self, service: str, path: str, kind: str, request: Any, metadata: Any
    ) -> None:
        port = self._platform.endpoints[service].grpc_port
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            requests = iter(_blocking(request()))
            if kind == "stream_stream":
                for _ in channel.stream_stream(path, request_serializer=_serialize)(
                    requests, metadata=metadata, timeout=15
                ):
                    pass
            else:
                channel.stream_unary(path, request_serializer=_serialize)(
                    requests, metadata=metadata, timeout=15
                )

    async def close(self) -> None:
        for c in self._channels.values():
            await c.close()


def _blocking(requests: AsyncIterator[Any]) -> list[Any]:
    """The requests of a sample's async stream, for the blocking client."""

    async def drain() -> list[Any]:
        return [r async for r in requests]

    return asyncio.run(drain())


def _serialize(message: Any) -> bytes:
    return bytes(message.SerializeToString())


def _kind(service: str, path: str) -> str:
    method = catalog.load(service).grpc_service
    from google.protobuf import descriptor_pool

    m = descriptor_pool.Default().FindMethodByName(f"{method}.{path.rsplit('/', 1)[1]}")
    if m.client_streaming:
        return "stream_stream" if m.server_streaming else "stream_unary"
    return "unary_stream" if m.server_streaming else "unary_unary"


async def test_every_rpc_answers_each_role_and_each_tenant_as_the_roles_table_says(
    platform: Platform, tenant: str
) -> None:
    missing = [rpc for _, rpc, _ in rpcs() if rpc not in ALLOWED or rpc not in SAMPLES]
    assert not missing, f"RPCs with no expectation in this test: {missing}"
    other = f"{tenant}-b"
    await platform.add_tenant(other)
    keys = {
        role: await platform.make_key(
            tenant,
            value,
            agent_id=AGENT_ID if value == AGENT else "",
            team_id=TEAM if value == MANAGER else "",
        )
        for role, value in ROLES.items()
    }
    await platform.keys_known(len(platform.admin_keys) * 2 + len(keys))
    # An agent session minted for a1 must be answered exactly as a1's agent key is.
    minted = await platform.gateway.CreateAgentSession(
        gw.CreateAgentSessionRequest(agent_id=AGENT_ID),
        metadata=clients.bearer(platform.integration_keys[tenant]),
    )
    keys["session"] = minted.token
    # The roster: a1 is in the manager's team, a2 is not.
    await platform.gateway.UpsertAgents(
        gw.UpsertAgentsRequest(
            tenant_id=tenant,
            agents=[
                gw.AgentProfile(agent_id=AGENT_ID, display_name="A1", team_id=TEAM),
                gw.AgentProfile(agent_id=OTHER, display_name="A2", team_id="t2"),
            ],
        )
    )
    await platform.published("gateway")
    await platform.caught_up("achievements")
    caller = Caller(platform)
    wrong: list[str] = []
    try:
        for service, rpc, path in rpcs():
            sample = SAMPLES[rpc]
            # No key, or a key that is not one: UNAUTHENTICATED, before anything else.
            for key in (None, "acc_0000000000000000_" + "x" * 43, "not a key"):
                got = await caller.code(service, rpc, path, sample(tenant, AGENT_ID), key)
                if got is not Code.UNAUTHENTICATED:
                    wrong.append(f"{rpc} with key {key!r}: {got.name}")
            for name, key in keys.items():
                role = "agent" if name == "session" else name
                allowed = role in ALLOWED[rpc]
                own = await caller.code(service, rpc, path, sample(tenant, AGENT_ID), key)
                foreign = await caller.code(service, rpc, path, sample(other, AGENT_ID), key)
                if not allowed:
                    expected = (Code.PERMISSION_DENIED, Code.PERMISSION_DENIED)
                    if (own, foreign) != expected:
                        wrong.append(f"{rpc} as {role}: {own.name}/{foreign.name}, not denied")
                    continue
                if own in (Code.UNAUTHENTICATED, Code.PERMISSION_DENIED, Code.NOT_FOUND):
                    wrong.append(f"{rpc} as {role} for its own tenant: {own.name}")
                # Another tenant's data is answered as if it did not exist.
                if foreign is not Code.NOT_FOUND:
                    wrong.append(f"{rpc} as {role} for another tenant: {foreign.name}")
                if rpc in AGENT_SCOPED and role in ("agent", "manager"):
                    if role == "manager" and not AGENT_SCOPED[rpc]:
                        continue
                    got = await caller.code(service, rpc, path, sample(tenant, OTHER), key)
                    if got is not Code.PERMISSION_DENIED:
                        wrong.append(f"{rpc} as {role} for an agent not theirs: {got.name}")
    finally:
        await caller.close()
    assert not wrong, "\n".join(wrong)


async def test_a_revoked_key_is_refused_by_every_service_within_five_seconds(
    platform: Platform, tenant: str
) -> None:
    key = await platform.make_key(tenant, ADMIN)
    await platform.keys_known(3)
    caller = Caller(platform)
    probes = {
        "gateway": "GatewayService.ExportEvents",
        "feedback": "FeedbackService.SubmitSurvey",
        "achievements": "AchievementsService.ListBadgeDefinitions",
        "challenges": "ChallengesService.ListAgentChallenges",
        "leaderboards": "LeaderboardsService.GetLeaderboard",
    }
    paths = {rpc: path for _, rpc, path in rpcs()}
    assert set(probes) == set(catalog.NAMES)

    async def answers() -> dict[str, Code]:
        return {
            s: await caller.code(s, rpc, paths[rpc], SAMPLES[rpc](tenant, AGENT_ID), key)
            for s, rpc in probes.items()
        }

    # A stream the key opened before it was revoked ends too.
    gateway = clients.channel(f"127.0.0.1:{platform.endpoints['gateway'].grpc_port}", key)
    watch = gw_grpc.GatewayServiceStub(gateway).WatchAgent(  # type: ignore[no-untyped-call]
        gw.WatchAgentRequest(agent_id=AGENT_ID)
    )

    async def stream_end() -> tuple[Code, float]:
        async for _ in watch:
            pass
        return Code.OK, time.monotonic()

    ended = asyncio.create_task(stream_end())
    # And a stream of requests it opened: the next request after the revocation is refused.
    batches: asyncio.Queue[Any] = asyncio.Queue()

    async def requests() -> AsyncIterator[Any]:
        while True:
            yield await batches.get()

    intake = gw_grpc.GatewayServiceStub(gateway).StreamEvents(requests())  # type: ignore[no-untyped-call]
    batches.put_nowait(gw.StreamEventsRequest(events=[interaction(tenant, AGENT_ID)]))
    try:
        assert (await intake.read()).results[0].status == gw.EVENT_STATUS_ACCEPTED
        assert Code.UNAUTHENTICATED not in (await answers()).values()
        assert not ended.done()
        key_id = identity.key_id_of(key)
        assert key_id is not None
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "accolade.cli",
            "keys",
            "revoke",
            key_id,
            "--database-url",
            platform.database_url,
            "--topic-namespace",
            platform.namespace,
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await proc.communicate()
        assert proc.returncode == 0 and f"key {key_id} of tenant {tenant} revoked" in out.decode()
        revoked_at = time.monotonic()
        refused: dict[str, float] = {}
        while len(refused) < len(probes) and time.monotonic() - revoked_at < 10:
            for service, code in (await answers()).items():
                if code is Code.UNAUTHENTICATED:
                    refused.setdefault(service, time.monotonic() - revoked_at)
            await asyncio.sleep(0.05)
        batches.put_nowait(gw.StreamEventsRequest(events=[interaction(tenant, AGENT_ID)]))
        with pytest.raises(grpc.aio.AioRpcError) as intake_refused:
            await asyncio.wait_for(intake.read(), 5.0)
        assert intake_refused.value.code() is Code.UNAUTHENTICATED
        try:
            await asyncio.wait_for(ended, 5.0)
        except grpc.aio.AioRpcError as exc:
            stream_code = exc.code()
        else:
            stream_code = Code.OK
        stream_ended = time.monotonic() - revoked_at
    finally:
        ended.cancel()
        await caller.close()
        await gateway.close()
    assert set(refused) == set(probes), refused
    assert max(refused.values()) < 5.0, refused
    assert stream_code is Code.UNAUTHENTICATED and stream_ended < 5.0, (stream_code, stream_ended)
    # The tenant's other keys still work.
    assert await platform.badges(tenant, AGENT_ID) == []
