"""WatchTeam: a manager's stream of the team's notifications, resumed per agent."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from accolade import clients
from accolade.runtime.identity import MANAGER
from accolade.v1 import gateway_service_pb2 as gw
from accolade.v1 import gateway_service_pb2_grpc as gw_grpc
from tests.platform import Platform, eventually, interaction

pytestmark = pytest.mark.system

Seen = list[tuple[str, int, str]]  # (agent, sequence, event id), as the stream sent them


async def _read(stream: Any, seen: Seen, count: int, within: float = 30) -> None:
    """Reads until `seen` holds `count` notifications."""
    async with asyncio.timeout(within):
        while len(seen) < count:
            reply = await stream.read()
            seen.append((reply.event.agent_id, reply.sequence, reply.event.event_id))


async def _history(platform: Platform, tenant: str, agent: str, count: int) -> Seen:
    """The agent's own notifications, from WatchAgent replaying them from the first."""
    stream = platform.gateway.WatchAgent(
        gw.WatchAgentRequest(tenant_id=tenant, agent_id=agent, after_sequence=0)
    )
    seen: Seen = []
    try:
        await _read(stream, seen, count)
    finally:
        stream.cancel()
    return seen


def _watched(platform: Platform) -> float:
    """How many agents the gateway's streams follow, from its metrics."""
    (line,) = [
        line
        for line in platform.metrics("gateway").splitlines()
        if line.startswith("accolade_gateway_watched_agents ")
    ]
    return float(line.split()[1])


async def _counts(platform: Platform, tenant: str) -> dict[str, int]:
    """Each agent's notifications so far, as the gateway's store numbers them."""
    conn = await asyncpg.connect(platform.database_url, server_settings={"search_path": "gateway"})
    try:
        rows = await conn.fetch(
            "SELECT agent_id, last FROM notification_sequences WHERE tenant_id = $1", tenant
        )
    finally:
        await conn.close()
    return {"ana": 0, "ben": 0, "cleo": 0, **{r[0]: r[1] for r in rows}}


async def test_a_manager_sees_each_notification_of_the_team_once_across_a_reconnect(
    platform: Platform, tenant: str
) -> None:
    await platform.apply_program(tenant)
    await platform.gateway.UpsertAgents(
        gw.UpsertAgentsRequest(
            tenant_id=tenant,
            agents=[
                gw.AgentProfile(agent_id="ana", display_name="Ana", team_id="north"),
                gw.AgentProfile(agent_id="ben", display_name="Ben", team_id="north"),
                gw.AgentProfile(agent_id="cleo", display_name="Cleo", team_id="south"),
                gw.AgentProfile(agent_id="dan", display_name="Dan", team_id="south"),
            ],
        )
    )
    manager = await platform.make_key(tenant, MANAGER, team_id="north")
    await platform.keys_known(3, ["gateway"])
    channel = clients.channel(f"127.0.0.1:{platform.endpoints['gateway'].grpc_port}", manager)
    stub = gw_grpc.GatewayServiceStub(channel)  # type: ignore[no-untyped-call]
    try:
        # The manager's own team when the request names none; from each agent's first
        # notification (so it does not matter when the stream is open at the server).
        stream = stub.WatchTeam(gw.WatchTeamRequest(after_sequences={"ana": 0, "ben": 0}))
        seen: Seen = []
        # A first badge each (first-resolution), then five-stars for ana and ben.
        await platform.publish([interaction(tenant, a) for a in ("ana", "ben", "cleo")])
        await _read(stream, seen, 2)
        # Disconnect with more on the way; reconnect naming the last sequence per agent.
        for agent in ("ana", "ben", "cleo"):
            await platform.survey(tenant, agent, 5)
        await _read(stream, seen, 3)
        stream.cancel()
        last = {agent: sequence for agent, sequence, _ in seen}
        stream = stub.WatchTeam(gw.WatchTeamRequest(team_id="north", after_sequences=last))

        # Each agent of the team: exactly its own notifications, in its order, once.
        await platform.published("achievements", "challenges")
        await platform.caught_up("gateway")
        counts = await _counts(platform, tenant)
        history = {a: await _history(platform, tenant, a, counts[a]) for a in ("ana", "ben")}
        await _read(stream, seen, counts["ana"] + counts["ben"])
        for agent, own in history.items():
            assert [s for s in seen if s[0] == agent] == own
        assert all(agent != "cleo" for agent, _, _ in seen)  # not in the team
        assert len(set(seen)) == len(seen)

        # Dan joins the team: the open stream follows him from then on.
        assert _watched(platform) == 2  # ana and ben
        await platform.gateway.UpsertAgents(
            gw.UpsertAgentsRequest(
                tenant_id=tenant,
                agents=[gw.AgentProfile(agent_id="dan", display_name="Dan", team_id="north")],
            )
        )

        async def dan_followed() -> bool:
            return _watched(platform) == 3

        assert await eventually(dan_followed, within=15)
        await platform.publish([interaction(tenant, "dan")])
        await _read(stream, seen, len(seen) + 1)
        assert seen[-1][:2] == ("dan", 1)
        stream.cancel()
    finally:
        await channel.close()
