"""The achievements service over gRPC, fed through its real topics on a real broker."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import asyncpg
import grpc
import pytest

from accolade import catalog
from accolade.achievements import _programs
from accolade.achievements._store import award_event_id
from accolade.runtime import admin, db
from accolade.runtime.interceptors import bad_request_violations
from accolade.runtime.server import migrations_for
from accolade.testing import (
    apply_program,
    by_event_id,
    caught_up,
    eventually,
    interaction,
    metric,
    outbox_published,
    produce,
    program_request,
    read_topic,
    stays,
    survey,
)
from accolade.v1 import achievements_service_pb2 as pb
from accolade.v1 import achievements_service_pb2_grpc as pb_grpc

ALL_TIME = date(1970, 1, 1)


def by_badge(reply: pb.ListAgentBadgesResponse) -> dict[str, pb.AgentBadge]:
    return {b.badge_id: b for b in reply.badges}


def once(tenant: str, agent: str, badge: str) -> str:
    """The award event id of a single-tier badge earned once."""
    return award_event_id(tenant, agent, badge, "earned", ALL_TIME)


async def test_badges_are_awarded_once_with_their_explanation(start_service, infra) -> None:
    achievements = await start_service("achievements")
    stub = pb_grpc.AchievementsServiceStub(achievements.channel)
    await apply_program(achievements.channel, "acme", "globex")
    topics = achievements.settings.topics
    unresolved = interaction("acme", "a1", resolved=False)
    first, second = interaction("acme", "a1"), interaction("acme", "a1")
    four, five, five_again = (
        survey("acme", "a1", 4),
        survey("acme", "a1", 5),
        survey("acme", "a1", 5),
    )
    # The same agent id in another tenant is another agent, with badges of its own.
    globex_five = survey("globex", "a1", 5)

    await produce(
        infra.bootstrap,
        topics.topic("activity"),
        [
            unresolved,
            interaction("acme", "a2", resolved=False),
            first,
            second,
            first,  # a redelivered copy
            interaction("globex", "a1", resolved=False),
            second,
        ],
    )
    await produce(
        infra.bootstrap, topics.topic("feedback"), [four, five, five_again, five, globex_five]
    )

    async def badges(tenant: str, agent: str) -> pb.ListAgentBadgesResponse:
        return await stub.ListAgentBadges(
            pb.ListAgentBadgesRequest(tenant_id=tenant, agent_id=agent)
        )

    await eventually(lambda: badges("acme", "a1"), lambda r: len(r.badges) == 2)
    # Every later qualifying event and every copy has been applied, and changed nothing.
    await caught_up(achievements.settings)
    reply = await badges("acme", "a1")
    # Oldest first.
    assert [b.awarded_at.ToDatetime() for b in reply.badges] == sorted(
        b.awarded_at.ToDatetime() for b in reply.badges
    )
    held = by_badge(reply)
    assert sorted(held) == ["first-resolution", "five-stars"]
    resolution, stars = held["first-resolution"], held["five-stars"]
    assert (resolution.name, stars.name) == ("First Resolution", "Five Stars")
    assert resolution.description and stars.description
    assert resolution.HasField("awarded_at") and stars.HasField("awarded_at")
    for badge, trigger in ((resolution, first), (stars, five)):
        assert badge.explanation.rule_id == badge.badge_id
        assert badge.explanation.rule_version == 1
        assert (badge.tier_id, badge.xp, badge.explanation.threshold) == ("earned", 10, 1)
        # The first event that counted is the earliest; the batch may have held more.
        assert badge.explanation.trigger_event_ids[0] == trigger.event_id
        assert badge.explanation.value == badge.explanation.event_count >= 1

    globex = by_badge(await badges("globex", "a1"))
    assert sorted(globex) == ["five-stars"]
    assert list(globex["five-stars"].explanation.trigger_event_ids) == [globex_five.event_id] * 2
    assert (await badges("acme", "a2")).badges == []

    # The announcements: one event per award, with an id derived from what it announces.
    await outbox_published(achievements.settings)
    awards = by_event_id(await read_topic(infra.bootstrap, topics.topic("awards")))
    expected = [("acme", "first-resolution"), ("acme", "five-stars"), ("globex", "five-stars")]
    assert sorted(awards) == sorted(once(t, "a1", b) for t, b in expected)
    for event_id, e in awards.items():
        assert uuid.UUID(event_id).version == 5
        assert e.WhichOneof("payload") == "badge_awarded"
        assert event_id == once(e.tenant_id, e.agent_id, e.badge_awarded.badge_id)
        listed = by_badge(await badges(e.tenant_id, e.agent_id))[e.badge_awarded.badge_id]
        assert e.badge_awarded.name == listed.name
        assert e.badge_awarded.explanation == listed.explanation
        assert e.HasField("recorded_at")


async def test_events_published_before_start_are_caught_up_and_announced_once(
    start_service, settings_for, infra
) -> None:
    # Published before the service starts, so it applies them in one batch and its relay
    # publishes several awards to one partition at once. tansu 0.6 answers ListOffsets with
    # the first offset of a partition's last batch plus one, which the relay once took for a
    # lost log, publishing everything again every second.
    settings = settings_for("achievements")
    await admin.create_topics(settings, [catalog.load(n) for n in catalog.NAMES])
    definition = catalog.load("achievements")
    conn = await asyncpg.connect(settings.database_url)
    try:
        await db.migrate(conn, "achievements", migrations_for(definition))
    finally:
        await conn.close()
    # The program is in place before the service starts.
    pool = await db.create_pool(settings.database_url, "achievements", application="test")
    try:
        await _programs.apply(pool, program_request("acme"), datetime.now(UTC))
    finally:
        await pool.close()
    agents = [f"a{i}" for i in range(6)]
    await produce(
        infra.bootstrap, settings.topics.topic("activity"), [interaction("acme", a) for a in agents]
    )
    achievements = await start_service("achievements")
    stub = pb_grpc.AchievementsServiceStub(achievements.channel)
    await caught_up(achievements.settings)
    for agent in agents:
        reply = await stub.ListAgentBadges(
            pb.ListAgentBadgesRequest(tenant_id="acme", agent_id=agent)
        )
        assert [b.badge_id for b in reply.badges] == ["first-resolution"]
    await outbox_published(achievements.settings)
    expected = sorted(once("acme", a, "first-resolution") for a in agents)

    # Three seconds: three of the relay's once-a-second checks of the broker's log.
    await stays(
        lambda: read_topic(infra.bootstrap, settings.topics.topic("awards")),
        lambda awards: sorted(by_event_id(awards)) == expected,
        seconds=3,
        what="one event per award",
    )


async def test_listing_without_an_agent_is_invalid(start_service) -> None:
    achievements = await start_service("achievements")
    stub = pb_grpc.AchievementsServiceStub(achievements.channel)

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.ListAgentBadges(pb.ListAgentBadgesRequest(tenant_id="acme", agent_id=""))

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in bad_request_violations(caught.value)] == ["agent_id"]


async def test_inbox_rows_recorded_before_topics_still_count_as_applied(database_url) -> None:
    # The schema as the release before the inbox was keyed by topic left it.
    definition = catalog.load("achievements")
    runtime = db.load_migrations("runtime", "accolade.runtime")
    own = db.load_migrations("achievements", definition.package)
    event_id = str(uuid.uuid4())
    conn = await asyncpg.connect(database_url)
    try:
        await db.migrate(conn, "achievements", [runtime[0], own[0]])
        await conn.execute(
            "INSERT INTO achievements.applied_events (consumer, tenant_id, event_id) "
            "VALUES ('achievements.badges', 'acme', $1)",
            event_id,
        )

        await db.migrate(conn, "achievements", migrations_for(definition))

        rows = await conn.fetch(
            "SELECT consumer, topic, tenant_id, event_id::text FROM achievements.applied_events "
            "ORDER BY topic"
        )
    finally:
        await conn.close()
    # It came from one of the two topics the consumer reads; which one was not recorded.
    assert [tuple(r) for r in rows] == [
        ("achievements.badges", "activity", "acme", event_id),
        ("achievements.badges", "feedback", "acme", event_id),
    ]


async def test_a_survey_reusing_an_interactions_id_earns_its_own_badge(
    start_service, infra
) -> None:
    achievements = await start_service("achievements")
    stub = pb_grpc.AchievementsServiceStub(achievements.channel)
    await apply_program(achievements.channel, "acme")
    topics = achievements.settings.topics
    resolved = interaction("acme", "a1")
    # The survey tool reused the interaction's UUID as the survey id: another fact, on
    # another topic, with the same event id.
    five = survey("acme", "a1", 5)
    five.event_id = five.survey_submitted.survey_id = resolved.event_id
    await produce(infra.bootstrap, topics.topic("activity"), [resolved])
    await produce(infra.bootstrap, topics.topic("feedback"), [five])

    reply = await eventually(
        lambda: stub.ListAgentBadges(pb.ListAgentBadgesRequest(tenant_id="acme", agent_id="a1")),
        lambda r: len(r.badges) == 2,
        what="a badge for each of the two events",
    )
    held = by_badge(reply)
    assert list(held["first-resolution"].explanation.trigger_event_ids) == [resolved.event_id] * 2
    assert list(held["five-stars"].explanation.trigger_event_ids) == [resolved.event_id] * 2


async def test_awards_are_counted_once_though_their_batch_was_retried(start_service, infra) -> None:
    achievements = await start_service("achievements")
    await apply_program(achievements.channel, "acme")
    conn = await asyncpg.connect(achievements.settings.database_url)
    try:
        # Until the gate opens, every transaction that awards a badge fails as it commits,
        # after the handler did its work: as a failover or a serialization conflict would.
        await conn.execute(
            """
            CREATE TABLE achievements.gate (open boolean NOT NULL);
            INSERT INTO achievements.gate VALUES (false);
            CREATE FUNCTION achievements.at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NOT (SELECT open FROM achievements.gate) THEN
                    RAISE EXCEPTION 'conflict at commit' USING ERRCODE = 'serialization_failure';
                END IF;
                RETURN NULL;
            END $$;
            CREATE CONSTRAINT TRIGGER at_commit AFTER INSERT ON achievements.agent_badges
                DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION achievements.at_commit();
            """
        )
        agents = [f"a{i}" for i in range(3)]
        await produce(
            infra.bootstrap,
            achievements.settings.topics.topic("activity"),
            [interaction("acme", a) for a in agents],
        )

        url = achievements.metrics_url
        await eventually(
            lambda: metric(url, "accolade_achievements_consumer_retries_total"),
            lambda retries: retries >= 2,
            what="two tries that failed at commit",
        )
        await conn.execute("UPDATE achievements.gate SET open = true")
        await caught_up(achievements.settings)
        awarded = await conn.fetchval("SELECT count(*) FROM achievements.agent_badges")
    finally:
        await conn.close()
    assert awarded == 3
    assert await metric(url, "accolade_achievements_badges_awarded_total") == 3
    assert await metric(url, "accolade_achievements_events_applied_total") == 3
