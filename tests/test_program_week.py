"""A simulated week of a 50-agent contact center in two time zones, on the running platform,
compared award by award with a computation of its own (tests/program_reference.py)."""

from __future__ import annotations

import asyncio
import random
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from accolade import programs
from accolade.v1 import achievements_service_pb2 as apb
from accolade.v1 import envelope_pb2, events_pb2, feedback_service_pb2, gateway_service_pb2
from accolade.v1 import leaderboards_service_pb2 as lpb
from tests import program_reference
from tests.platform import Platform

ZONES = ("America/New_York", "Asia/Kolkata")
AGENTS = {f"agent-{i:02d}": ZONES[i % 2] for i in range(50)}
# A week of history must still count: every tenant's lateness, set for this platform.
LATENESS = timedelta(days=9)


@pytest.fixture
async def week_platform(
    database_url, infra, namespace, tmp_path, tenant
) -> AsyncIterator[Platform]:
    # The tenant's own lateness, from its settings, reaches achievements by the identity topic.
    p = Platform(
        database_url,
        infra.bootstrap,
        namespace,
        tmp_path,
        tenants=(tenant,),
        lateness_seconds=int(LATENESS.total_seconds()),
    )
    try:
        await p.start()
        yield p
    finally:
        await p.close()


def simulate(tenant: str, now: datetime, rng: random.Random):  # type: ignore[no-untyped-def]
    """Seven local days of work for every agent: interactions, surveys, QA, adherence."""
    events: list[envelope_pb2.Envelope] = []
    surveys: list[feedback_service_pb2.SubmitSurveyRequest] = []
    for agent, zone in AGENTS.items():
        tz = ZoneInfo(zone)
        skill = rng.random()
        today = now.astimezone(tz).date()
        for back in range(7, -1, -1):
            day = today - timedelta(days=back)
            shift = datetime.combine(day, datetime.min.time(), tz) + timedelta(hours=15)
            for k in range(rng.randint(4, 14)):
                # Shifts run 15:00 to 23:59 local: late ones straddle the UTC day.
                at = shift + timedelta(minutes=rng.randint(0, 539))
                if at >= now - timedelta(minutes=1):
                    continue
                e = envelope_pb2.Envelope(
                    event_id=str(uuid.uuid4()),
                    tenant_id=tenant,
                    agent_id=agent,
                    interaction_completed=events_pb2.InteractionCompleted(
                        interaction_id=f"{agent}-{day}-{k}",
                        channel=rng.choice([1, 1, 2, 3]),
                        resolved_first_contact=rng.random() < 0.5 + skill / 2,
                        transferred=rng.random() < 0.1,
                    ),
                )
                e.occurred_at.FromDatetime(at)
                e.interaction_completed.handle_time.FromSeconds(rng.randint(60, 700))
                events.append(e)
                if rng.random() < 0.45:
                    s = feedback_service_pb2.SubmitSurveyRequest(
                        tenant_id=tenant,
                        agent_id=agent,
                        survey_id=str(uuid.uuid4()),
                        interaction_id=e.interaction_completed.interaction_id,
                        csat=rng.choices([5, 4, 3, 2, 1], [40 + 40 * skill, 30, 15, 8, 7])[0],
                        comment=rng.choice(
                            [
                                "",
                                "Thanks!",
                                "Patient and clear, fixed my billing issue in one call.",
                            ]
                        ),
                    )
                    if rng.random() < 0.6:
                        s.nps = rng.randint(5, 10)
                    s.submitted_at.FromDatetime(
                        min(at + timedelta(minutes=3), now - timedelta(seconds=5))
                    )
                    surveys.append(s)
            if day < today:
                a = envelope_pb2.Envelope(
                    event_id=str(uuid.uuid4()),
                    tenant_id=tenant,
                    agent_id=agent,
                    adherence_reported=events_pb2.AdherenceReported(
                        day=day.isoformat(), adherence_percent=round(85 + 15 * rng.random(), 1)
                    ),
                )
                a.occurred_at.FromDatetime(shift + timedelta(hours=8, minutes=30))
                events.append(a)
            if rng.random() < 0.5:
                q = envelope_pb2.Envelope(
                    event_id=str(uuid.uuid4()),
                    tenant_id=tenant,
                    agent_id=agent,
                    qa_evaluated=events_pb2.QaEvaluated(
                        evaluation_id=str(uuid.uuid4()),
                        form_id="voice",
                        score=round(70 + 30 * rng.random(), 1),
                    ),
                )
                q.occurred_at.FromDatetime(
                    min(shift + timedelta(hours=2), now - timedelta(minutes=1))
                )
                events.append(q)
    return events, surveys


async def test_a_week_of_the_starter_program_matches_an_independent_computation(
    week_platform: Platform, tenant: str
) -> None:
    platform = week_platform
    rng = random.Random(20261202)
    now = datetime.now(UTC)
    # The admin applies the starter program as a file, in force from before the week.
    achievements = f"127.0.0.1:{platform.endpoints['achievements'].grpc_port}"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "accolade.cli",
        "apply",
        "-f",
        str(programs.STARTER),
        "--tenant",
        tenant,
        "--address",
        achievements,
        "--leaderboards",
        f"127.0.0.1:{platform.endpoints['leaderboards'].grpc_port}",
        "--effective-at",
        "10d",
        "--key",
        platform.admin_keys[tenant],
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    assert proc.returncode == 0 and b"leveltable/levels created (version 1)" in out
    await platform.gateway.UpsertAgents(
        gateway_service_pb2.UpsertAgentsRequest(
            tenant_id=tenant,
            agents=[
                gateway_service_pb2.AgentProfile(agent_id=a, display_name=a, time_zone=z)
                for a, z in AGENTS.items()
            ],
        )
    )
    # Achievements knows every agent's zone before the week arrives.
    await platform.published("gateway")
    await platform.caught_up("achievements")

    events, surveys = simulate(tenant, now, rng)
    rng.shuffle(events)  # arrival order is not the order things happened
    for i in range(0, len(events), 400):
        assert set(await platform.publish(events[i : i + 400])) == {
            gateway_service_pb2.EVENT_STATUS_ACCEPTED
        }
    queue = list(surveys)

    async def submit() -> None:
        while queue:
            await platform.feedback.SubmitSurvey(queue.pop(), timeout=30)

    await asyncio.gather(*(submit() for _ in range(8)))
    await platform.published("gateway", "feedback")
    await platform.caught_up("achievements")
    await platform.published("achievements")

    # The expected state, from all events at once.
    published = [e for e in events]
    for s in surveys:
        e = envelope_pb2.Envelope(event_id=s.survey_id, tenant_id=tenant, agent_id=s.agent_id)
        e.survey_submitted.CopyFrom(
            events_pb2.SurveySubmitted(
                survey_id=s.survey_id,
                interaction_id=s.interaction_id,
                csat=s.csat,
                comment=s.comment,
            )
        )
        if s.HasField("nps"):
            e.survey_submitted.nps = s.nps
        e.occurred_at.CopyFrom(s.submitted_at)
        published.append(e)
    badges = list(programs.starter(tenant).badges)
    levels = programs.starter(tenant).level_table.spec.levels
    expected = program_reference.compute(badges, published, AGENTS, datetime.now(UTC), LATENESS)
    assert len(expected.awards) > 200  # a week earns plenty: the comparison means something

    got: set[tuple[str, str, str, object]] = set()
    for agent, zone in AGENTS.items():
        reply = await platform.achievements.ListAgentBadges(
            apb.ListAgentBadgesRequest(tenant_id=tenant, agent_id=agent)
        )
        for b in reply.badges:
            spec = next(x for x in badges if x.metadata.id == b.badge_id).spec
            window = program_reference.ALL_TIME
            if spec.repeat == "every_window":
                window = (
                    b.explanation.window_start.ToDatetime(tzinfo=UTC)
                    .astimezone(ZoneInfo(zone))
                    .date()
                )
            got.add((agent, b.badge_id, b.tier_id, window))
            # Every award explains itself with its window's standing.
            assert b.explanation.value >= b.explanation.threshold
            assert b.xp == next(t.xp for t in spec.tiers if t.id == b.tier_id)
        progress = await platform.achievements.GetAgentProgress(
            apb.GetAgentProgressRequest(tenant_id=tenant, agent_id=agent)
        )
        xp = expected.xp.get(agent, 0)
        level = max(lv.level for lv in levels if lv.xp <= xp)
        assert (progress.xp, progress.level) == (xp, level), agent
        for p in progress.badges:
            badge = next(x for x in badges if x.metadata.id == p.badge_id)
            start = program_reference.current_start(badge, zone, datetime.now(UTC))
            value = expected.values.get((agent, p.badge_id, start), 0.0)
            if not (badge.spec.window or "").startswith("rolling"):
                assert p.value == pytest.approx(value), (agent, p.badge_id)
            held = {
                t
                for (a, b2, t, w) in expected.awards
                if a == agent and b2 == p.badge_id and w in (start, program_reference.ALL_TIME)
            }
            nxt = next((t for t in badge.spec.tiers if t.id not in held), None)
            assert p.next_tier_id == (nxt.id if nxt else ""), (agent, p.badge_id)
            if nxt and not (badge.spec.window or "").startswith("rolling"):
                assert p.remaining == pytest.approx(max(0.0, nxt.threshold - value))
    missing, extra = expected.awards - got, got - expected.awards
    assert not missing and not extra, (sorted(missing)[:10], sorted(extra)[:10])

    # The starter program's boards rank the week as a computation from all events at
    # once does: every period, every rank and score, and who is not yet eligible.
    await platform.caught_up("leaderboards")
    boards = programs.starter_boards(tenant).boards
    checked = 0
    for board in boards:
        for period, (ranked, waiting) in program_reference.board_standings(
            board, published
        ).items():
            reply = await platform.leaderboards.GetLeaderboard(
                lpb.GetLeaderboardRequest(
                    tenant_id=tenant, board_id=board.metadata.id, day=period.isoformat(), limit=100
                )
            )
            assert reply.period == period.isoformat()
            assert [(e.rank, e.agent_id) for e in reply.entries] == [(r, a) for r, a, _ in ranked]
            assert [e.score for e in reply.entries] == [pytest.approx(x) for _, _, x in ranked]
            assert reply.not_eligible_agents == len(waiting), board.metadata.id
            checked += len(ranked) + len(waiting)
    assert checked > 3 * len(AGENTS)  # every board holds most agents: the check means something
    # And its scorecard: each entry's score, and how it adds up, from its metrics' zones.
    for card in programs.starter_boards(tenant).scorecards:
        for period, (ranked, waiting) in program_reference.scorecard_standings(
            card, published, {}
        ).items():
            reply = await platform.leaderboards.GetLeaderboard(
                lpb.GetLeaderboardRequest(
                    tenant_id=tenant, board_id=card.metadata.id, day=period.isoformat(), limit=100
                )
            )
            assert [(e.rank, e.agent_id) for e in reply.entries] == [(r, a) for r, a, _ in ranked]
            assert [e.score for e in reply.entries] == [pytest.approx(x) for _, _, x in ranked]
            assert reply.not_eligible_agents == len(waiting), card.metadata.id
            for e in reply.entries:
                assert sum(x.contribution for x in e.explanation) == pytest.approx(e.score)

    # The archive holds everything the services consumed: rebuilt from it in empty
    # tables, achievements' state is what it is live.
    await platform.caught_up("gateway")
    gateway = f"127.0.0.1:{platform.endpoints['gateway'].grpc_port}"
    replay = ["replay", "--service", "achievements", "--tenant", tenant]
    replay += [
        "--address",
        achievements,
        "--gateway",
        gateway,
        "--key",
        platform.admin_keys[tenant],
    ]
    code, out = await cli(*replay)
    assert code == 0 and out.splitlines()[-1] == "no difference", out
    assert f"replayed {len(events) + len(surveys) + len(AGENTS)} events" in out
    compared = int(out.split("compared ")[1].split()[0])
    assert compared > 2 * len(expected.awards)  # awards, levels, windows and buckets
    # A replay does see a difference: one window counted once too often, live.
    conn = await asyncpg.connect(platform.database_url)
    try:
        row = await conn.fetchrow(
            "UPDATE achievements.badge_windows SET n = n + 1 WHERE ctid = "
            "(SELECT ctid FROM achievements.badge_windows WHERE tenant_id = $1 LIMIT 1) "
            "RETURNING agent_id, badge_id",
            tenant,
        )
    finally:
        await conn.close()
    code, out = await cli(*replay)
    # (the window as it is live, and as the events make it)
    assert code == 1 and "2 differences:" in out, out
    for side in ("live only", "replay only"):
        assert f"badge_windows {side}: agent_id={row[0]}, badge_id={row[1]}" in out


async def cli(*args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "accolade.cli", *args, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode()
