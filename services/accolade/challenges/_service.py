"""The challenges service: daily challenges counted from activity."""

from __future__ import annotations

import grpc

from accolade.challenges._progress import progress_handler
from accolade.challenges._rules import CHALLENGES
from accolade.runtime.auth import access
from accolade.runtime.identity import AGENT
from accolade.runtime.service import ConsumerSpec, Context, ServiceDefinition
from accolade.runtime.validation import Violations, utcnow
from accolade.v1 import challenges_service_pb2 as pb
from accolade.v1 import challenges_service_pb2_grpc as pb_grpc

# One agent's progress in a period: the index (tenant, agent, period) answers it.
AGENT_PROGRESS = (
    "SELECT challenge_id, progress, completed_at FROM challenge_progress "
    "WHERE tenant_id = $1 AND agent_id = $2 AND period = $3"
)


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
                AGENT_PROGRESS,
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
    consumers=(ConsumerSpec("progress", ("activity",), progress_handler),),
    # Challenges keep no roster yet, so manager keys cannot be checked against a team here.
    access={"ListAgentChallenges": access(AGENT, agent="agent_id")},
)
