"""`accolade demo`: three mornings in a small contact center, sent to a running platform."""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import grpc

from accolade import clients, programs
from accolade.runtime.settings import SERVICE_PORTS
from accolade.v1 import (
    achievements_service_pb2,
    achievements_service_pb2_grpc,
    challenges_service_pb2,
    challenges_service_pb2_grpc,
    envelope_pb2,
    events_pb2,
    feedback_service_pb2,
    feedback_service_pb2_grpc,
    gateway_service_pb2,
    gateway_service_pb2_grpc,
    leaderboards_service_pb2,
    leaderboards_service_pb2_grpc,
)

AGENTS = ("ana.silva", "ben.okafor", "chloe.martin", "dev.patel")
# How often each agent resolves on first contact: a spread, so the board has a story.
FIRST_CONTACT_RATE = {"ana.silva": 0.9, "ben.okafor": 0.7, "chloe.martin": 0.55, "dev.patel": 0.35}
_NAMESPACE = uuid.UUID("3c1b1a0e-2d5f-4a8e-9f11-0c7b9e2a4d03")


# The agents' time zone: their days, weeks and months are Lisbon's.
ZONE = "Europe/Lisbon"
# Days of history the demo sends: within the 72 hours an event may arrive late and count.
DAYS = 3


def mornings(
    tenant: str, now: datetime
) -> tuple[list[envelope_pb2.Envelope], list[feedback_service_pb2.SubmitSurveyRequest]]:
    """The interactions and surveys of the last DAYS mornings, ending now."""
    interactions, surveys = [], []
    for back in range(DAYS - 1, -1, -1):
        end = now - timedelta(days=back)
        i, s = morning(tenant, end, seed=7 + back)
        interactions += i
        surveys += s
    return interactions, surveys


def morning(
    tenant: str, now: datetime, seed: int = 7
) -> tuple[list[envelope_pb2.Envelope], list[feedback_service_pb2.SubmitSurveyRequest]]:
    """The interactions and surveys of one morning; the same day gives the same ids."""
    rng = random.Random(seed)  # noqa: S311 - a repeatable story, not a secret
    start = max(now.replace(hour=0, minute=0, second=0, microsecond=0), now - timedelta(hours=4))
    span = max((now - start).total_seconds() - 60, 60.0)
    day = now.date().isoformat()
    interactions, surveys = [], []
    for agent in AGENTS:
        for i in range(14):
            at = start + timedelta(seconds=span * (i + rng.random()) / 15)
            iid = f"{agent}-{day}-{i:03d}"
            e = envelope_pb2.Envelope(
                event_id=str(uuid.uuid5(_NAMESPACE, f"{tenant}/{iid}")),
                tenant_id=tenant,
                agent_id=agent,
                interaction_completed=events_pb2.InteractionCompleted(
                    interaction_id=iid,
                    channel=rng.choice(
                        [
                            events_pb2.CHANNEL_VOICE,
                            events_pb2.CHANNEL_CHAT,
                            events_pb2.CHANNEL_EMAIL,
                        ]
                    ),
                    resolved_first_contact=rng.random() < FIRST_CONTACT_RATE[agent],
                    transferred=rng.random() < 0.1,
                ),
            )
            e.occurred_at.FromDatetime(at)
            e.interaction_completed.handle_time.FromSeconds(rng.randint(120, 900))
            interactions.append(e)
            if rng.random() < 0.4:
                req = feedback_service_pb2.SubmitSurveyRequest(
                    tenant_id=tenant,
                    agent_id=agent,
                    survey_id=str(uuid.uuid5(_NAMESPACE, f"{tenant}/{iid}/survey")),
                    interaction_id=iid,
                    csat=rng.choices([5, 4, 3, 2, 1], [45, 30, 15, 6, 4])[0],
                    comment=rng.choice(
                        ["", "Quick and friendly.", "Solved it in one call!", "Took a while."]
                    ),
                )
                req.submitted_at.FromDatetime(min(now, at + timedelta(minutes=5)))
                surveys.append(req)
    return interactions, surveys


async def run(
    host: str, port_offset: int, tenant: str, admin_key: str, integration_key: str
) -> int:
    """Sends the morning, waits for it to take effect, and prints what agents earned.

    The integration key sends the roster, the activity and the surveys, as a contact
    center's connector would; the admin key applies the program and reads the results.
    """

    def channel(service: str, key: str | None = None) -> grpc.aio.Channel:
        address = f"{host}:{SERVICE_PORTS[service][0] + port_offset}"
        return clients.channel(address, key or admin_key)

    now = datetime.now(UTC)
    interactions, surveys = mornings(tenant, now)
    print(f"Contact center {tenant}: {DAYS} mornings of {len(AGENTS)} agents\n")
    async with (
        channel("gateway") as gw,
        channel("gateway", integration_key) as intake_channel,
        channel("feedback", integration_key) as fb,
        channel("achievements") as ach,
        channel("challenges") as ch,
        channel("leaderboards") as lb,
    ):
        gateway = gateway_service_pb2_grpc.GatewayServiceStub(gw)
        intake = gateway_service_pb2_grpc.GatewayServiceStub(intake_channel)
        live: list[str] = []
        badges = achievements_service_pb2_grpc.AchievementsServiceStub(ach)
        # As `accolade apply -f deploy/programs/starter.yaml --effective-at 3d` does.
        request = programs.starter(tenant, effective_at=now - timedelta(days=DAYS))
        applied = await badges.ApplyProgram(request, timeout=30)
        boards = leaderboards_service_pb2_grpc.LeaderboardsServiceStub(lb)
        placed = await boards.ApplyBoards(
            programs.starter_boards(tenant, effective_at=now - timedelta(days=DAYS)), timeout=30
        )
        changes = [*applied.changes, *placed.changes]
        print(
            f"Applied {programs.STARTER.name}: "
            + ", ".join(
                f"{sum(c.action == a for c in changes)} {a}"
                for a in ("created", "updated", "unchanged")
            )
        )

        async def watch(agent: str) -> None:
            stream = gateway.WatchAgent(
                gateway_service_pb2.WatchAgentRequest(tenant_id=tenant, agent_id=agent)
            )
            async for msg in stream:
                e = msg.event
                if e.HasField("badge_awarded"):
                    what = f"{e.badge_awarded.name} ({e.badge_awarded.explanation.tier_id})"
                elif e.HasField("level_reached"):
                    what = f"level {e.level_reached.level}: {e.level_reached.name}"
                else:
                    what = e.challenge_completed.name
                live.append(f"  live  {agent:<14} {what}")
                print(live[-1])

        roster = await intake.UpsertAgents(
            gateway_service_pb2.UpsertAgentsRequest(
                tenant_id=tenant,
                agents=[
                    gateway_service_pb2.AgentProfile(
                        agent_id=a,
                        display_name=a.replace(".", " ").title(),
                        team_id="team-a" if i < 2 else "team-b",
                        site_id="lisbon",
                        time_zone=ZONE,
                    )
                    for i, a in enumerate(AGENTS)
                ],
            )
        )
        print(f"Roster: {roster.created} agents added, {roster.updated} updated")
        watchers = [asyncio.create_task(watch(a)) for a in AGENTS]
        await asyncio.sleep(0.5)
        reply = await intake.PublishEvents(
            gateway_service_pb2.PublishEventsRequest(events=interactions), timeout=30
        )
        statuses = Counter(
            gateway_service_pb2.EventStatus.Name(r.status).removeprefix("EVENT_STATUS_").lower()
            for r in reply.results
        )
        print(f"Sent {len(interactions)} interactions for {len(AGENTS)} agents: {dict(statuses)}")
        feedback = feedback_service_pb2_grpc.FeedbackServiceStub(fb)
        dupes = 0
        for s in surveys:
            dupes += (await feedback.SubmitSurvey(s, timeout=10)).duplicate
        print(f"Sent {len(surveys)} surveys ({len(surveys) - dupes} new, {dupes} duplicate)\n")

        # The board is today's (UTC): it counts this morning's resolutions only.
        resolved = Counter(
            e.agent_id
            for e in interactions
            if e.interaction_completed.resolved_first_contact
            and e.occurred_at.ToDatetime(tzinfo=UTC).date() == now.date()
        )
        day = now.date().isoformat()
        deadline = asyncio.get_running_loop().time() + 30
        while True:
            board = await boards.GetLeaderboard(
                leaderboards_service_pb2.GetLeaderboardRequest(tenant_id=tenant, day=day, limit=10)
            )
            if {x.agent_id: int(x.score) for x in board.entries} == dict(resolved):
                break
            if asyncio.get_running_loop().time() > deadline:
                print("Not all events took effect within 30 s; showing what has.")
                break
            await asyncio.sleep(0.25)
        await asyncio.sleep(1.0)  # let the last notifications reach the streams
        for w in watchers:
            w.cancel()
        with contextlib.suppress(asyncio.CancelledError, grpc.aio.AioRpcError):
            await asyncio.gather(*watchers)

        await _show_badges(badges, tenant)

        print(f"\nLeaderboard: {board.board_id}, {board.period} (UTC, this morning)")
        for x in board.entries:
            print(f"  {x.rank:>2}. {x.agent_id:<14} {int(x.score)} resolved")
        await _show_boards(boards, tenant, day)

        challenges = challenges_service_pb2_grpc.ChallengesServiceStub(ch)
        print("\nChallenges")
        for agent in AGENTS:
            got = await challenges.ListAgentChallenges(
                challenges_service_pb2.ListAgentChallengesRequest(
                    tenant_id=tenant, agent_id=agent, day=day
                )
            )
            for c in got.challenges:
                mark = "done" if c.completed else f"{c.target - c.progress} to go"
                print(f"  {agent:<14} {c.name}: {c.progress}/{c.target} ({mark})")
    return 0


async def _show_boards(
    boards: leaderboards_service_pb2_grpc.LeaderboardsServiceStub, tenant: str, day: str
) -> None:
    """The starter program's boards this period, with who is not ranked yet and why, and
    its scorecard with how each entry's score adds up."""
    listed = await boards.ListBoards(leaderboards_service_pb2.ListBoardsRequest(tenant_id=tenant))
    for b in listed.boards[1:]:  # the tenant's own, after the built-in one
        got = await boards.GetLeaderboard(
            leaderboards_service_pb2.GetLeaderboardRequest(
                tenant_id=tenant, board_id=b.metadata.id, day=day, limit=5
            )
        )
        what = f"{b.spec.metric or 'count'} {b.spec.field}".strip()
        print(f"\n{b.metadata.name} ({b.metadata.id}: {what}, from {got.period})")
        for x in got.entries:
            print(f"  {x.rank:>2}. {x.agent_id:<14} {round(x.score, 2):g}")
        if got.not_eligible_agents:
            print(
                f"  not ranked yet: {got.not_eligible_agents} agent(s) with fewer than "
                f"{b.spec.min_events} matching {b.spec.event} events this period"
            )
    for c in listed.scorecards:
        got = await boards.GetLeaderboard(
            leaderboards_service_pb2.GetLeaderboardRequest(
                tenant_id=tenant, board_id=c.metadata.id, day=day, limit=5
            )
        )
        weights = ", ".join(f"{m.id} x{m.weight or 1:g}" for m in c.spec.metrics)
        print(f"\n{c.metadata.name} ({c.metadata.id}: scorecard of {weights}, from {got.period})")
        for x in got.entries:
            print(f"  {x.rank:>2}. {x.agent_id:<14} {round(x.score, 2):g} points")
            for m in x.explanation:
                print(
                    f"        {m.name:<26} {round(m.value, 1):>6g}  {m.zone:<7}"
                    f" {m.points:>3g} x {m.weight:g} -> {round(m.contribution, 2):g}"
                )
        if got.not_eligible_agents:
            print(f"  not ranked yet: {got.not_eligible_agents} agent(s) short of a minimum")


async def _show_badges(
    badges: achievements_service_pb2_grpc.AchievementsServiceStub, tenant: str
) -> None:
    """Each agent's badges with their tiers, level, and what they are closest to."""
    print("\nBadges, levels and progress")
    for agent in AGENTS:
        got = await badges.ListAgentBadges(
            achievements_service_pb2.ListAgentBadgesRequest(tenant_id=tenant, agent_id=agent)
        )
        progress = await badges.GetAgentProgress(
            achievements_service_pb2.GetAgentProgressRequest(tenant_id=tenant, agent_id=agent)
        )
        print(
            f"  {agent}: level {progress.level} {progress.level_name}, {progress.xp} XP"
            + (
                f" ({progress.next_level_xp - progress.xp} to the next level)"
                if progress.next_level_xp
                else ""
            )
        )
        for b in got.badges:
            x = b.explanation
            if x.window in ("day", "week", "month", "quarter"):
                start = x.window_start.ToDatetime(tzinfo=UTC).astimezone(ZoneInfo(ZONE)).date()
                b.tier_id += f" ({x.window} of {start})"
            print(
                f"    {b.name} {b.tier_id}: {x.value:g} >= {x.threshold:g} over {x.event_count} events (+{b.xp} XP)"
            )
        close = sorted(
            (p for p in progress.badges if p.next_tier_id and p.value > 0),
            key=lambda p: p.remaining / max(p.next_threshold, 1e-9),
        )[:3]
        for p in close:
            print(f"    next: {p.summary}")
