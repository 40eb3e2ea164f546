"""Roster upserts through the gateway: stored, published once per change, validated."""

from __future__ import annotations

import uuid

import asyncpg
import grpc
import pytest

from accolade.runtime.interceptors import bad_request_violations
from accolade.testing import caught_up, eventually, outbox_published, produce, read_topic
from accolade.v1 import envelope_pb2
from accolade.v1 import gateway_service_pb2 as pb
from accolade.v1 import gateway_service_pb2_grpc as pb_grpc


def profile(agent: str, name: str, team: str = "blue") -> pb.AgentProfile:
    return pb.AgentProfile(agent_id=agent, display_name=name, team_id=team, site_id="lisbon")


async def test_upserts_publish_each_change_once_and_feedback_keeps_the_roster(
    start_service, infra
) -> None:
    gateway = await start_service("gateway")
    stub = pb_grpc.GatewayServiceStub(gateway.channel)

    first = await stub.UpsertAgents(
        pb.UpsertAgentsRequest(
            tenant_id="acme", agents=[profile("a1", "Ana"), profile("a2", "Ben")]
        )
    )
    again = await stub.UpsertAgents(
        pb.UpsertAgentsRequest(
            tenant_id="acme", agents=[profile("a1", "Ana"), profile("a2", "Ben", team="red")]
        )
    )

    assert (first.created, first.updated, first.unchanged) == (2, 0, 0)
    assert (again.created, again.updated, again.unchanged) == (0, 1, 1)
    await outbox_published(gateway.settings)
    published = [
        e for _, e in await read_topic(infra.bootstrap, gateway.settings.topics.topic("roster"))
    ]
    assert sorted(
        (e.agent_id, e.agent_updated.version, e.agent_updated.team_id) for e in published
    ) == [
        ("a1", 1, "blue"),
        ("a2", 1, "blue"),
        ("a2", 2, "red"),
    ]
    assert len({e.event_id for e in published}) == 3

    # The whole profile travels: time zone, region, manager, hire date, skills.
    full = pb.AgentProfile(
        agent_id="a3",
        display_name="Cleo",
        region_id="emea",
        time_zone="Europe/Lisbon",
        manager_id="m1",
        hire_date="2024-05-01",
        skills=["billing", "spanish"],
    )
    assert (
        await stub.UpsertAgents(pb.UpsertAgentsRequest(tenant_id="acme", agents=[full]))
    ).created == 1
    assert (
        await stub.UpsertAgents(pb.UpsertAgentsRequest(tenant_id="acme", agents=[full]))
    ).unchanged == 1
    await outbox_published(gateway.settings)
    (cleo,) = [
        e.agent_updated
        for _, e in await read_topic(infra.bootstrap, gateway.settings.topics.topic("roster"))
        if e.agent_id == "a3"
    ]
    assert (cleo.region_id, cleo.time_zone, cleo.manager_id, cleo.hire_date, list(cleo.skills)) == (
        "emea",
        "Europe/Lisbon",
        "m1",
        "2024-05-01",
        ["billing", "spanish"],
    )

    # Feedback reads the roster topic into its own table. An old version arriving late, as
    # an event of its own (an id the inbox has not seen), does not undo the newer one.
    feedback = await start_service("feedback")
    stale = envelope_pb2.Envelope()
    stale.CopyFrom(next(e for e in published if (e.agent_id, e.agent_updated.version) == ("a2", 1)))
    stale.event_id = str(uuid.uuid4())
    await caught_up(feedback.settings)
    await produce(infra.bootstrap, gateway.settings.topics.topic("roster"), [stale])
    await caught_up(feedback.settings)

    async def roster() -> dict[str, tuple[str, int]]:
        conn = await asyncpg.connect(feedback.settings.database_url)
        try:
            rows = await conn.fetch("SELECT agent_id, team_id, version FROM feedback.agents")
        finally:
            await conn.close()
        return {r["agent_id"]: (r["team_id"], r["version"]) for r in rows}

    assert await eventually(
        roster, lambda r: r == {"a1": ("blue", 1), "a2": ("red", 2), "a3": ("", 1)}
    )


@pytest.mark.parametrize(
    ("agents", "field"),
    [
        ([], "agents"),
        ([pb.AgentProfile(agent_id="a1")], "agents[0].display_name"),
        ([pb.AgentProfile(agent_id="", display_name="X")], "agents[0].agent_id"),
        ([profile("a1", "A"), profile("a1", "B")], "agents[1].agent_id"),
        ([profile("a1", "A", team="no spaces")], "agents[0].team_id"),
        (
            [pb.AgentProfile(agent_id="a1", display_name="A", time_zone="Europe/Lisbn")],
            "agents[0].time_zone",
        ),
        (
            [pb.AgentProfile(agent_id="a1", display_name="A", time_zone="CEST")],
            "agents[0].time_zone",
        ),
        (
            [pb.AgentProfile(agent_id="a1", display_name="A", hire_date="2026-13-01")],
            "agents[0].hire_date",
        ),
        (
            [pb.AgentProfile(agent_id="a1", display_name="A", skills=["ok", "not ok"])],
            "agents[0].skills[1]",
        ),
    ],
)
async def test_bad_roster_entries_get_invalid_argument_naming_the_field(
    start_service, agents, field
) -> None:
    gateway = await start_service("gateway")
    stub = pb_grpc.GatewayServiceStub(gateway.channel)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.UpsertAgents(pb.UpsertAgentsRequest(tenant_id="acme", agents=agents))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in bad_request_violations(caught.value)] == [field]
