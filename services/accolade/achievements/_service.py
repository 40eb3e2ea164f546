"""The achievements service: awards badges from activity and feedback, and lists them."""

from __future__ import annotations

import grpc

from accolade.achievements._awards import badges_handler
from accolade.achievements._rules import BY_ID
from accolade.runtime.service import ConsumerSpec, Context, ServiceDefinition
from accolade.runtime.validation import Violations
from accolade.v1 import achievements_service_pb2 as pb
from accolade.v1 import achievements_service_pb2_grpc as pb_grpc
from accolade.v1 import events_pb2


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
    consumers=(ConsumerSpec("badges", ("activity", "feedback"), badges_handler),),
)
