"""The achievements service: awards badges from activity and feedback, and lists them."""

from __future__ import annotations

import uuid

import asyncpg
import grpc

from accolade.achievements._rules import BUILT_IN, BY_ID, BadgeRule
from accolade.runtime import outbox
from accolade.runtime.consumer import Handler
from accolade.runtime.service import ConsumerSpec, Context, ServiceDefinition
from accolade.runtime.validation import Violations, utcnow
from accolade.v1 import achievements_service_pb2 as pb
from accolade.v1 import achievements_service_pb2_grpc as pb_grpc
from accolade.v1 import envelope_pb2, events_pb2

# Award event ids derive from (tenant, agent, badge), so a replay emits the same ids.
_AWARD_NAMESPACE = uuid.UUID("7f1c1e0e-5a43-4d0c-9c55-3d0f1f6b0a01")


def award_event_id(tenant_id: str, agent_id: str, badge_id: str) -> str:
    """The id of the event announcing that an agent earned a once-per-agent badge."""
    return str(uuid.uuid5(_AWARD_NAMESPACE, f"{tenant_id}/{agent_id}/{badge_id}"))


def _handler(ctx: Context) -> Handler:
    awards_topic = ctx.topic("awards")
    awarded = ctx.metrics.counter("badges_awarded", "Badges awarded, by badge.", ("badge",))

    async def apply(conn: asyncpg.Connection, envelope: envelope_pb2.Envelope) -> None:
        for rule in BUILT_IN:
            if rule.matches(envelope) and await _award(conn, awards_topic, rule, envelope):
                awarded.labels(rule.badge_id).inc()

    return apply


async def _award(
    conn: asyncpg.Connection, topic: str, rule: BadgeRule, trigger: envelope_pb2.Envelope
) -> bool:
    now = utcnow()
    event_id = award_event_id(trigger.tenant_id, trigger.agent_id, rule.badge_id)
    earned_at = trigger.occurred_at.ToDatetime(tzinfo=now.tzinfo)
    inserted = await conn.fetchval(
        "INSERT INTO agent_badges (tenant_id, agent_id, badge_id, rule_version, awarded_at, earned_at, "
        "time_window, value, threshold, trigger_event_ids, award_event_id) "
        "VALUES ($1, $2, $3, $4, $5, $6, 'all_time', 1, 1, $7, $8) ON CONFLICT DO NOTHING RETURNING true",
        trigger.tenant_id,
        trigger.agent_id,
        rule.badge_id,
        rule.version,
        now,
        earned_at,
        [trigger.event_id],
        event_id,
    )
    if not inserted:
        return False
    award = envelope_pb2.Envelope(
        event_id=event_id,
        tenant_id=trigger.tenant_id,
        agent_id=trigger.agent_id,
        badge_awarded=events_pb2.BadgeAwarded(
            badge_id=rule.badge_id,
            name=rule.name,
            explanation=events_pb2.Explanation(
                rule_id=rule.badge_id,
                rule_version=rule.version,
                window="all_time",
                value=1,
                threshold=1,
                trigger_event_ids=[trigger.event_id],
            ),
        ),
    )
    award.occurred_at.CopyFrom(trigger.occurred_at)
    award.recorded_at.FromDatetime(now)
    await outbox.add(conn, topic, [award])
    return True


class AchievementsServicer(pb_grpc.AchievementsServiceServicer):
    """Answers what badges an agent holds."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    async def ListAgentBadges(
        self, request: pb.ListAgentBadgesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListAgentBadgesResponse:
        v = Violations()
        v.identifier("tenant_id", request.tenant_id)
        v.identifier("agent_id", request.agent_id)
        v.check()
        rows = await self._ctx.pool.fetch(
            "SELECT badge_id, rule_version, awarded_at, time_window, value, threshold, "
            "trigger_event_ids::text[] AS triggers FROM agent_badges "
            "WHERE tenant_id = $1 AND agent_id = $2 ORDER BY awarded_at, badge_id",
            request.tenant_id,
            request.agent_id,
        )
        badges = []
        for r in rows:
            rule = BY_ID.get(r["badge_id"])
            badge = pb.AgentBadge(
                badge_id=r["badge_id"],
                name=rule.name if rule else r["badge_id"],
                description=rule.description if rule else "",
                explanation=events_pb2.Explanation(
                    rule_id=r["badge_id"],
                    rule_version=r["rule_version"],
                    window=r["time_window"],
                    value=r["value"],
                    threshold=r["threshold"],
                    trigger_event_ids=r["triggers"],
                ),
            )
            badge.awarded_at.FromDatetime(r["awarded_at"])
            badges.append(badge)
        return pb.ListAgentBadgesResponse(badges=badges)


async def _build(ctx: Context) -> AchievementsServicer:
    return AchievementsServicer(ctx)


SERVICE = ServiceDefinition(
    name="achievements",
    grpc_service="accolade.v1.AchievementsService",
    package="accolade.achievements",
    servicer=_build,
    register=pb_grpc.add_AchievementsServiceServicer_to_server,
    consumers=(ConsumerSpec("badges", ("activity", "feedback"), _handler),),
)
