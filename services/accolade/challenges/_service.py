"""The challenges service: daily challenges counted from activity."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC

import asyncpg
import grpc

from accolade.runtime import outbox
from accolade.runtime.conditions import RESOLVED_FIRST_CONTACT, FieldEquals
from accolade.runtime.consumer import Handler
from accolade.runtime.service import ConsumerSpec, Context, ServiceDefinition
from accolade.runtime.validation import Violations, utcnow
from accolade.v1 import challenges_service_pb2 as pb
from accolade.v1 import challenges_service_pb2_grpc as pb_grpc
from accolade.v1 import envelope_pb2, events_pb2

# Challenge event ids derive from what they announce, so a replay emits the same ids.
_NAMESPACE = uuid.UUID("0b6f7a52-8d7e-4f57-a3c5-6a2f3c1d9e02")


@dataclasses.dataclass(frozen=True, slots=True)
class DailyChallenge:
    """Reach `target` matching events in one calendar day (UTC for now)."""

    challenge_id: str
    name: str
    description: str
    version: int
    target: int
    counts: FieldEquals


TEN_RESOLUTIONS = DailyChallenge(
    challenge_id="ten-resolutions-today",
    name="10 resolutions today",
    description="Resolve 10 customer issues on first contact in one day.",
    version=1,
    target=10,
    counts=RESOLVED_FIRST_CONTACT,
)
CHALLENGES = (TEN_RESOLUTIONS,)


def _handler(ctx: Context) -> Handler:
    topic = ctx.topic("challenges")
    completions = ctx.metrics.counter(
        "challenges_completed", "Challenge completions, by challenge.", ("challenge",)
    )

    async def apply(conn: asyncpg.Connection, envelope: envelope_pb2.Envelope) -> None:
        for challenge in CHALLENGES:
            if challenge.counts.matches(envelope) and await _advance(
                conn, topic, challenge, envelope
            ):
                completions.labels(challenge.challenge_id).inc()

    return apply


async def _advance(
    conn: asyncpg.Connection, topic: str, c: DailyChallenge, e: envelope_pb2.Envelope
) -> bool:
    """Counts `e` toward `c`; emits progress, and completion when the target is reached."""
    now = utcnow()
    day = e.occurred_at.ToDatetime(tzinfo=UTC).date()
    row = await conn.fetchrow(
        "INSERT INTO challenge_progress (tenant_id, challenge_id, period, agent_id, progress, target, event_ids) "
        "VALUES ($1, $2, $3, $4, 1, $5, ARRAY[$6::uuid]) "
        "ON CONFLICT (tenant_id, challenge_id, period, agent_id) DO UPDATE SET "
        "  progress = challenge_progress.progress + 1, "
        "  event_ids = CASE WHEN challenge_progress.progress < challenge_progress.target "
        "    THEN challenge_progress.event_ids || EXCLUDED.event_ids ELSE challenge_progress.event_ids END, "
        "  completed_at = CASE WHEN challenge_progress.completed_at IS NULL "
        "    AND challenge_progress.progress + 1 >= challenge_progress.target THEN $7 "
        "    ELSE challenge_progress.completed_at END, "
        "  updated_at = $7 "
        "RETURNING progress, target, completed_at, event_ids::text[] AS event_ids",
        e.tenant_id,
        c.challenge_id,
        day,
        e.agent_id,
        c.target,
        e.event_id,
        now,
    )
    period = day.isoformat()
    key = f"{e.tenant_id}/{e.agent_id}/{c.challenge_id}/{period}"
    events = []
    if row["progress"] <= row["target"]:
        progressed = _envelope(
            e, str(uuid.uuid5(_NAMESPACE, f"{key}/progress/{row['progress']}")), now
        )
        progressed.challenge_progressed.CopyFrom(
            events_pb2.ChallengeProgressed(
                challenge_id=c.challenge_id,
                period=period,
                progress=row["progress"],
                target=row["target"],
            )
        )
        events.append(progressed)
    completed_now = bool(row["progress"] == row["target"])
    if completed_now:
        done = _envelope(e, str(uuid.uuid5(_NAMESPACE, f"{key}/completed")), now)
        done.challenge_completed.CopyFrom(
            events_pb2.ChallengeCompleted(
                challenge_id=c.challenge_id,
                name=c.name,
                period=period,
                target=row["target"],
                explanation=events_pb2.Explanation(
                    rule_id=c.challenge_id,
                    rule_version=c.version,
                    window=f"day:{period}",
                    value=row["progress"],
                    threshold=row["target"],
                    trigger_event_ids=row["event_ids"],
                ),
            )
        )
        events.append(done)
    await outbox.add(conn, topic, events)
    return completed_now


def _envelope(trigger: envelope_pb2.Envelope, event_id: str, now: object) -> envelope_pb2.Envelope:
    out = envelope_pb2.Envelope(
        event_id=event_id, tenant_id=trigger.tenant_id, agent_id=trigger.agent_id
    )
    out.occurred_at.CopyFrom(trigger.occurred_at)
    out.recorded_at.FromDatetime(now)  # type: ignore[arg-type]
    return out


class ChallengesServicer(pb_grpc.ChallengesServiceServicer):
    """Answers how an agent is doing in each challenge."""

    def __init__(self, ctx: Context) -> None:
        self._pool = ctx.pool

    async def ListAgentChallenges(
        self, request: pb.ListAgentChallengesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListAgentChallengesResponse:
        v = Violations()
        v.identifier("tenant_id", request.tenant_id)
        v.identifier("agent_id", request.agent_id)
        day = v.day("day", request.day, today=utcnow().date())
        v.check()
        rows = {
            r["challenge_id"]: r
            for r in await self._pool.fetch(
                "SELECT challenge_id, progress, completed_at FROM challenge_progress "
                "WHERE tenant_id = $1 AND agent_id = $2 AND period = $3",
                request.tenant_id,
                request.agent_id,
                day,
            )
        }
        out = []
        for c in CHALLENGES:
            r = rows.get(c.challenge_id)
            item = pb.AgentChallenge(
                challenge_id=c.challenge_id,
                name=c.name,
                description=c.description,
                period=day.isoformat(),
                progress=r["progress"] if r else 0,
                target=c.target,
                completed=bool(r and r["completed_at"]),
            )
            if r and r["completed_at"]:
                item.completed_at.FromDatetime(r["completed_at"])
            out.append(item)
        return pb.ListAgentChallengesResponse(challenges=out)


async def _build(ctx: Context) -> ChallengesServicer:
    return ChallengesServicer(ctx)


SERVICE = ServiceDefinition(
    name="challenges",
    grpc_service="accolade.v1.ChallengesService",
    package="accolade.challenges",
    servicer=_build,
    register=pb_grpc.add_ChallengesServiceServicer_to_server,
    consumers=(ConsumerSpec("progress", ("activity",), _handler),),
)
