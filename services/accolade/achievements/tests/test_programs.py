"""Programs as data on the running service: applied, versioned, evaluated, explained."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import grpc
import pytest

from accolade import programs
from accolade.runtime.interceptors import bad_request_violations
from accolade.testing import (
    caught_up,
    eventually,
    interaction,
    metric,
    outbox_published,
    produce,
    read_topic,
    survey,
    windows_due,
)
from accolade.v1 import achievements_service_pb2 as pb
from accolade.v1 import achievements_service_pb2_grpc as pb_grpc
from accolade.v1 import envelope_pb2, events_pb2

PROGRAM = """
apiVersion: accolade/v1
kind: Badge
metadata: {id: resolver, name: Resolver, description: Resolutions in a day.}
spec:
  event: interaction_completed
  when: event.resolved_first_contact
  window: day
  repeat: every_window
  tiers:
    - {id: silver, threshold: 2, xp: 60}
    - {id: gold, threshold: 4, xp: 60}
---
apiVersion: accolade/v1
kind: Badge
metadata: {id: happy-day, name: Happy Day, description: Average CSAT of 4 in a day.}
spec:
  event: survey_submitted
  aggregate: avg
  field: csat
  window: day
  repeat: every_window
  min_count: 2
  tiers:
    - {id: earned, threshold: 4, xp: 5}
---
apiVersion: accolade/v1
kind: LevelTable
metadata: {id: levels, name: Levels}
spec:
  levels:
    - {level: 1, name: Rookie, xp: 0}
    - {level: 2, name: Pro, xp: 100}
    - {level: 3, name: Star, xp: 1000}
"""


def request(tenant: str, text: str = PROGRAM, **kw: object) -> pb.ApplyProgramRequest:
    return programs.apply_request(tenant, programs.parse(text, "test.yaml"), **kw)  # type: ignore[arg-type]


async def test_the_starter_program_is_applied_versioned_and_archived(start_service) -> None:
    achievements = await start_service("achievements")
    stub = pb_grpc.AchievementsServiceStub(achievements.channel)
    starter = programs.starter("acme")
    ids = [b.metadata.id for b in starter.badges]
    assert len(ids) >= 20

    starter.dry_run = True
    dry = await stub.ApplyProgram(starter)
    assert {c.action for c in dry.changes} == {"created"}
    assert (
        await stub.ListBadgeDefinitions(pb.ListBadgeDefinitionsRequest(tenant_id="acme"))
    ).badges == []

    starter.dry_run = False
    first = await stub.ApplyProgram(starter)
    assert [(c.kind, c.id, c.action, c.version) for c in first.changes] == [
        ("Badge", i, "created", 1) for i in ids
    ] + [("LevelTable", "levels", "created", 1)]
    again = await stub.ApplyProgram(starter)
    assert {c.action for c in again.changes} == {"unchanged"}

    starter.badges[2].spec.tiers[0].threshold = 12
    changed = await stub.ApplyProgram(starter)
    assert [(c.id, c.action, c.version) for c in changed.changes if c.action != "unchanged"] == [
        (ids[2], "updated", 2)
    ]
    got = (
        await stub.GetBadgeDefinition(
            pb.GetBadgeDefinitionRequest(tenant_id="acme", badge_id=ids[2])
        )
    ).badge
    assert (got.version, got.spec.tiers[0].threshold, got.metadata.name) == (
        2,
        12,
        starter.badges[2].metadata.name,
    )

    archived = await stub.ArchiveBadgeDefinition(
        pb.ArchiveBadgeDefinitionRequest(tenant_id="acme", badge_id=ids[0])
    )
    assert (archived.badge.version, archived.badge.archived) == (2, True)
    listed = await stub.ListBadgeDefinitions(pb.ListBadgeDefinitionsRequest(tenant_id="acme"))
    assert sorted(b.metadata.id for b in listed.badges) == sorted(ids[1:])
    # Another tenant has no program of its own.
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.GetBadgeDefinition(
            pb.GetBadgeDefinitionRequest(tenant_id="globex", badge_id=ids[2])
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_bad_definitions_are_refused_naming_each_problem_and_nothing_is_applied(
    start_service,
) -> None:
    achievements = await start_service("achievements")
    stub = pb_grpc.AchievementsServiceStub(achievements.channel)
    bad = request("acme")
    bad.badges[0].spec.when = "event.resolved_first_contact &&\n  event.handel_time > 0"
    tiers = bad.badges[0].spec.tiers
    tiers[0].threshold, tiers[1].threshold = 4, 2
    bad.badges[1].spec.event = "survey_sent"
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.ApplyProgram(bad)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    problems = dict(bad_request_violations(caught.value))
    assert sorted(problems) == [
        "badges[0].spec.tiers[1].threshold",
        "badges[0].spec.when",
        "badges[1].spec.event",
    ]
    assert problems["badges[0].spec.when"].startswith("2:8: undefined field 'handel_time'")
    assert "tiers must ascend" in problems["badges[0].spec.tiers[1].threshold"]
    listed = await stub.ListBadgeDefinitions(pb.ListBadgeDefinitionsRequest(tenant_id="acme"))
    assert listed.badges == []


async def test_tiers_xp_levels_and_progress_in_the_agents_own_day(start_service, infra) -> None:
    achievements = await start_service("achievements")
    stub = pb_grpc.AchievementsServiceStub(achievements.channel)
    topics = achievements.settings.topics
    await stub.ApplyProgram(request("acme", effective_at=datetime.now(UTC) - timedelta(days=3)))
    tokyo = ZoneInfo("Asia/Tokyo")
    # The agent works in Tokyo: its day is not the UTC day.
    entry = envelope_pb2.Envelope(
        event_id="6f0c5a52-0a4b-4a53-9d51-5b0c2d7c1e01",
        tenant_id="acme",
        agent_id="a1",
        agent_updated=events_pb2.AgentUpdated(
            display_name="Aiko", time_zone="Asia/Tokyo", version=1
        ),
    )
    entry.occurred_at.GetCurrentTime()
    await produce(infra.bootstrap, topics.topic("roster"), [entry])
    await caught_up(achievements.settings)

    # Yesterday in Tokyo: two resolutions at 23:30 local and one after midnight; today four.
    today = datetime.now(tokyo).date()
    yesterday = today - timedelta(days=1)
    late_evening = datetime.combine(yesterday, datetime.min.time(), tokyo) + timedelta(
        hours=23, minutes=30
    )
    day_one = [
        interaction("acme", "a1", occurred_at=late_evening + timedelta(minutes=m)) for m in (0, 10)
    ]
    after_midnight = interaction("acme", "a1", occurred_at=late_evening + timedelta(minutes=45))
    now = datetime.now(UTC)
    day_two = [interaction("acme", "a1", occurred_at=now - timedelta(minutes=m)) for m in (1, 2, 3)]
    day_two = [
        d for d in day_two if d.occurred_at.ToDatetime(tzinfo=UTC).astimezone(tokyo).date() == today
    ]
    await produce(infra.bootstrap, topics.topic("activity"), [*day_one, after_midnight, *day_two])
    await caught_up(achievements.settings)

    reply = await stub.ListAgentBadges(pb.ListAgentBadgesRequest(tenant_id="acme", agent_id="a1"))
    got = {
        (b.tier_id, b.explanation.window_start.ToDatetime(tzinfo=UTC).astimezone(tokyo).date())
        for b in reply.badges
    }
    expected = {("silver", yesterday)}
    today_count = 1 + len(day_two)  # after midnight counts today, in Tokyo
    if today_count >= 2:
        expected.add(("silver", today))
    if today_count >= 4:
        expected.add(("gold", today))
    assert got == expected
    y = next(
        b
        for b in reply.badges
        if b.explanation.window_start.ToDatetime(tzinfo=UTC).astimezone(tokyo).date() == yesterday
    )
    assert (y.explanation.value, y.explanation.event_count) == (2, 2)
    assert list(y.explanation.trigger_event_ids) == [day_one[0].event_id, day_one[1].event_id]
    span = y.explanation.window_end.ToDatetime(tzinfo=UTC) - y.explanation.window_start.ToDatetime(
        tzinfo=UTC
    )
    assert span == timedelta(days=1)

    # The award explains itself, in the agent's own day.
    why = await stub.ExplainAward(
        pb.ExplainAwardRequest(
            tenant_id="acme",
            agent_id="a1",
            badge_id="resolver",
            tier_id="silver",
            window=f"{yesterday}",
        )
    )
    assert why.badge == y
    assert (why.definition.version, why.definition.spec.tiers[0].threshold) == (1, 2)
    assert why.summary.startswith(
        f"Resolver silver: events that counted 2, at least 2 needed, over {yesterday} 00:00 "
        f"to {yesterday + timedelta(days=1)} 00:00 (Asia/Tokyo); 2 events counted, the first "
        f"{day_one[0].event_id} and the last {day_one[1].event_id}; by version 1"
    )
    for bad, code in (
        (dict(tier_id="platinum", window=f"{yesterday}"), grpc.StatusCode.NOT_FOUND),
        (dict(tier_id="silver", window="yesterday"), grpc.StatusCode.INVALID_ARGUMENT),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.ExplainAward(
                pb.ExplainAwardRequest(tenant_id="acme", agent_id="a1", badge_id="resolver", **bad)
            )
        assert caught.value.code() == code

    # XP adds up; at 100 the agent reaches level 2, announced once.
    xp = 60 * len(expected)
    progress = await stub.GetAgentProgress(
        pb.GetAgentProgressRequest(tenant_id="acme", agent_id="a1")
    )
    assert (progress.xp, progress.level, progress.level_name) == (
        xp,
        2 if xp >= 100 else 1,
        "Pro" if xp >= 100 else "Rookie",
    )
    resolver = next(p for p in progress.badges if p.badge_id == "resolver")
    assert resolver.value == today_count
    nxt = next((t for t in (("silver", 2), ("gold", 4)) if t[1] > today_count), None)
    if nxt:
        assert (resolver.next_tier_id, resolver.remaining) == (nxt[0], nxt[1] - today_count)
        assert resolver.summary == f"{nxt[1] - today_count:g} more for Resolver {nxt[0]}"
    await outbox_published(achievements.settings)
    levels = [
        e
        for _, e in await read_topic(infra.bootstrap, topics.topic("awards"))
        if e.HasField("level_reached")
    ]
    assert [(e.level_reached.level, e.level_reached.name) for e in levels] == (
        [(2, "Pro")] if xp >= 100 else []
    )


async def test_an_average_is_decided_when_its_window_closes(start_service, infra) -> None:
    achievements = await start_service("achievements")
    stub = pb_grpc.AchievementsServiceStub(achievements.channel)
    await stub.ApplyProgram(request("acme", effective_at=datetime.now(UTC) - timedelta(days=1)))
    now = datetime.now(UTC)
    surveys = [
        survey("acme", "a1", c, occurred_at=now - timedelta(minutes=m))
        for c, m in ((5, 3), (4, 2), (2, 1))
    ]
    surveys += [
        survey("acme", "a2", c, occurred_at=now - timedelta(minutes=m)) for c, m in ((5, 3), (4, 2))
    ]
    await produce(infra.bootstrap, achievements.settings.topics.topic("feedback"), surveys)
    await caught_up(achievements.settings)
    # The day is not over: nothing is decided, though a2's average is 4.5 so far.
    for agent in ("a1", "a2"):
        reply = await stub.ListAgentBadges(
            pb.ListAgentBadgesRequest(tenant_id="acme", agent_id=agent)
        )
        assert reply.badges == []
    # Time passes: the window has ended and the lateness gone by.
    await windows_due(achievements.settings, "happy-day")
    reply = await eventually(
        lambda: stub.ListAgentBadges(pb.ListAgentBadgesRequest(tenant_id="acme", agent_id="a2")),
        lambda r: len(r.badges) == 1,
        what="the closed window decided",
    )
    assert (reply.badges[0].badge_id, reply.badges[0].explanation.value) == ("happy-day", 4.5)
    a1 = await stub.ListAgentBadges(pb.ListAgentBadgesRequest(tenant_id="acme", agent_id="a1"))
    assert a1.badges == []  # (5 + 4 + 2) / 3 is below 4


async def test_events_past_the_lateness_are_recorded_and_not_counted(start_service, infra) -> None:
    achievements = await start_service("achievements")
    stub = pb_grpc.AchievementsServiceStub(achievements.channel)
    await stub.ApplyProgram(request("acme", effective_at=datetime.now(UTC) - timedelta(days=10)))
    old = [
        interaction("acme", "a1", occurred_at=datetime.now(UTC) - timedelta(days=4, minutes=m))
        for m in (1, 2)
    ]
    await produce(infra.bootstrap, achievements.settings.topics.topic("activity"), old)
    await caught_up(achievements.settings)
    reply = await stub.ListAgentBadges(pb.ListAgentBadgesRequest(tenant_id="acme", agent_id="a1"))
    assert reply.badges == []
    conn = await asyncpg.connect(achievements.settings.database_url)
    try:
        late = await conn.fetch("SELECT event_id::text FROM achievements.late_events")
    finally:
        await conn.close()
    assert sorted(r[0] for r in late) == sorted(e.event_id for e in old)
    assert await metric(achievements.metrics_url, "accolade_achievements_late_events_total") == 2


async def test_events_are_evaluated_by_the_version_in_force_when_they_happened(
    start_service, infra
) -> None:
    achievements = await start_service("achievements")
    stub = pb_grpc.AchievementsServiceStub(achievements.channel)
    now = datetime.now(UTC)
    v1 = request("acme", effective_at=now - timedelta(days=2))
    await stub.ApplyProgram(v1)
    # From an hour ago, one resolution a day earns silver.
    v2 = request("acme", effective_at=now - timedelta(hours=1))
    v2.badges[0].spec.tiers[0].threshold = 1
    assert next(c.version for c in (await stub.ApplyProgram(v2)).changes) == 2
    before = interaction("acme", "early", occurred_at=now - timedelta(hours=2))
    after = interaction("acme", "late", occurred_at=now - timedelta(minutes=5))
    await produce(infra.bootstrap, achievements.settings.topics.topic("activity"), [before, after])
    await caught_up(achievements.settings)
    early = await stub.ListAgentBadges(
        pb.ListAgentBadgesRequest(tenant_id="acme", agent_id="early")
    )
    late = await stub.ListAgentBadges(pb.ListAgentBadgesRequest(tenant_id="acme", agent_id="late"))
    assert early.badges == []  # version 1 needs two
    assert [(b.tier_id, b.explanation.rule_version) for b in late.badges] == [("silver", 2)]
