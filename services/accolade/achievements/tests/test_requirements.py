"""Badges that need others first, and badges capped per period, on the running service."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import grpc
import pytest

from accolade import programs
from accolade.runtime.interceptors import bad_request_violations
from accolade.testing import caught_up, eventually, interaction, produce, survey, windows_due
from accolade.v1 import achievements_service_pb2 as pb
from accolade.v1 import achievements_service_pb2_grpc as pb_grpc

PROGRAM = """
apiVersion: accolade/v1
kind: Badge
metadata: {id: resolver, name: Resolver, description: Two resolutions in a day.}
spec:
  event: interaction_completed
  when: event.resolved_first_contact
  window: day
  repeat: every_window
  tiers: [{id: silver, threshold: 2, xp: 10}]
---
apiVersion: accolade/v1
kind: Badge
metadata: {id: closer, name: Closer, description: "A survey, once you are a Resolver."}
spec:
  event: survey_submitted
  requires: [{badge: resolver, tier: silver}]
  tiers: [{id: earned, threshold: 1, xp: 10}]
---
apiVersion: accolade/v1
kind: Badge
metadata: {id: daily-voice, name: Daily Voice, description: "A survey a day, twice at most."}
spec:
  event: survey_submitted
  window: day
  repeat: every_window
  cap: {count: 2, per: all_time}
  tiers: [{id: earned, threshold: 1, xp: 5}]
"""


def request(tenant: str, text: str = PROGRAM, **kw: object) -> pb.ApplyProgramRequest:
    return programs.apply_request(tenant, programs.parse(text, "test.yaml"), **kw)  # type: ignore[arg-type]


async def badges(stub: pb_grpc.AchievementsServiceStub, agent: str) -> list[pb.AgentBadge]:
    reply = await stub.ListAgentBadges(pb.ListAgentBadgesRequest(tenant_id="acme", agent_id=agent))
    return list(reply.badges)


def held(found: list[pb.AgentBadge], badge: str) -> list[date]:
    """The days whose windows earned `badge` (the all-time window starts in 1970)."""
    return sorted(
        b.explanation.window_start.ToDatetime(tzinfo=UTC).date()
        for b in found
        if b.badge_id == badge
    )


async def test_a_badge_is_earned_once_what_it_requires_is_held(start_service, infra) -> None:
    achievements = await start_service("achievements")
    stub = pb_grpc.AchievementsServiceStub(achievements.channel)
    topics = achievements.settings.topics
    await stub.ApplyProgram(request("acme", effective_at=datetime.now(UTC) - timedelta(days=1)))
    await produce(infra.bootstrap, topics.topic("feedback"), [survey("acme", "a1", 5)])
    await caught_up(achievements.settings)
    # The survey meets Closer's threshold, but a1 is no Resolver yet, and is told so.
    assert [b.badge_id for b in await badges(stub, "a1")] == []
    progress = await stub.GetAgentProgress(
        pb.GetAgentProgressRequest(tenant_id="acme", agent_id="a1")
    )
    (closer,) = [p for p in progress.badges if p.badge_id == "closer"]
    assert (closer.value, closer.summary) == (
        1.0,
        "needs Resolver silver first",
    )
    assert [(m.badge, m.tier) for m in closer.missing] == [("resolver", "silver")]

    # Resolver is earned by activity alone; Closer follows without another survey.
    await produce(
        infra.bootstrap, topics.topic("activity"), [interaction("acme", "a1") for _ in range(2)]
    )
    found = await eventually(
        lambda: badges(stub, "a1"),
        lambda bs: {b.badge_id for b in bs} == {"resolver", "closer"},
        what="closer unlocked by resolver",
    )
    earned = next(b for b in found if b.badge_id == "closer")
    assert (earned.explanation.value, earned.explanation.event_count) == (1.0, 1)


async def test_a_capped_badge_goes_to_the_earliest_windows_whatever_the_arrival_order(
    start_service, infra
) -> None:
    achievements = await start_service("achievements")
    stub = pb_grpc.AchievementsServiceStub(achievements.channel)
    now = datetime.now(UTC)
    await stub.ApplyProgram(request("acme", effective_at=now - timedelta(days=3)))
    # Today's survey arrives first, the day before yesterday's last.
    days = [now, now - timedelta(days=1), now - timedelta(days=2)]
    for at in days:
        await produce(
            infra.bootstrap,
            achievements.settings.topics.topic("feedback"),
            [survey("acme", "a1", 4, occurred_at=at)],
        )
        await caught_up(achievements.settings)
    # Nothing is decided while a window can still change.
    assert held(await badges(stub, "a1"), "daily-voice") == []
    # Time passes: every window has ended and the lateness gone by.
    await windows_due(achievements.settings, "daily-voice")
    found = await eventually(
        lambda: badges(stub, "a1"),
        lambda bs: len(held(bs, "daily-voice")) == 2,
        what="two windows decided",
    )
    # The three windows closed together; the cap kept the two that started first.
    assert held(found, "daily-voice") == sorted(at.date() for at in days[1:])


async def test_requirements_that_do_not_exist_or_go_round_are_refused(start_service) -> None:
    achievements = await start_service("achievements")
    stub = pb_grpc.AchievementsServiceStub(achievements.channel)
    await stub.ApplyProgram(request("acme"))
    # Resolver, already in force, would now need Closer, which needs Resolver.
    bad = request(
        "acme",
        PROGRAM.split("---")[0].replace(
            "repeat: every_window", "repeat: every_window\n  requires: [{badge: closer}]"
        )
        + "---"
        + PROGRAM.split("---")[2].replace("per: all_time", "per: day"),
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.ApplyProgram(bad)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    problems = dict(bad_request_violations(caught.value))
    assert problems == {
        "badges[0].spec.requires": "'resolver' would require itself through other badges",
        "badges[1].spec.cap.per": "must be one of week, month, quarter, all_time",
    }
    listed = await stub.ListBadgeDefinitions(pb.ListBadgeDefinitionsRequest(tenant_id="acme"))
    assert {d.metadata.id: d.version for d in listed.badges} == {
        "resolver": 1,
        "closer": 1,
        "daily-voice": 1,
    }
