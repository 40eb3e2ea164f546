"""The feedback service's gRPC API."""

from __future__ import annotations

import asyncpg
import grpc

from accolade.runtime import outbox
from accolade.runtime.consumer import Handler
from accolade.runtime.errors import AccoladeError
from accolade.runtime.service import ConsumerSpec, Context, ServiceDefinition
from accolade.runtime.validation import Violations, utcnow
from accolade.v1 import envelope_pb2, events_pb2
from accolade.v1 import feedback_service_pb2 as pb
from accolade.v1 import feedback_service_pb2_grpc as pb_grpc

MAX_COMMENT = 2000


class SurveyConflict(AccoladeError):
    """A survey_id was sent again with different content."""

    code = grpc.StatusCode.ALREADY_EXISTS


class FeedbackServicer(pb_grpc.FeedbackServiceServicer):
    """Records surveys and publishes them as feedback events."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._surveys = ctx.metrics.counter(
            "surveys_recorded", "New surveys recorded, by CSAT score.", ("csat",)
        )

    async def SubmitSurvey(
        self, request: pb.SubmitSurveyRequest, context: grpc.aio.ServicerContext
    ) -> pb.SubmitSurveyResponse:
        now = utcnow()
        v = Violations()
        v.identifier("tenant_id", request.tenant_id)
        v.identifier("agent_id", request.agent_id)
        survey_id = v.uuid("survey_id", request.survey_id)
        if not request.interaction_id:
            v.add("interaction_id", "is required")
        if not 1 <= request.csat <= 5:
            v.add("csat", f"must be between 1 and 5, not {request.csat}")
        if len(request.comment) > MAX_COMMENT:
            v.add(
                "comment", f"must be at most {MAX_COMMENT} characters, not {len(request.comment)}"
            )
        if request.HasField("submitted_at"):
            v.timestamp("submitted_at", request.submitted_at, True, now=now)
        v.check()

        submitted_at = (
            request.submitted_at.ToDatetime(tzinfo=now.tzinfo)
            if request.HasField("submitted_at")
            else now
        )
        envelope = envelope_pb2.Envelope(
            # The survey id is the event id: a resent survey is the same fact.
            event_id=survey_id,
            tenant_id=request.tenant_id,
            agent_id=request.agent_id,
            survey_submitted=events_pb2.SurveySubmitted(
                survey_id=survey_id,
                interaction_id=request.interaction_id,
                csat=request.csat,
                comment=request.comment,
            ),
        )
        envelope.occurred_at.FromDatetime(submitted_at)
        envelope.recorded_at.FromDatetime(now)

        async with self._ctx.pool.acquire() as conn, conn.transaction():
            inserted = await conn.fetchval(
                "INSERT INTO surveys (tenant_id, survey_id, agent_id, interaction_id, csat, comment, submitted_at) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING true",
                request.tenant_id,
                survey_id,
                request.agent_id,
                request.interaction_id,
                request.csat,
                request.comment,
                submitted_at,
            )
            if inserted:
                await outbox.add(conn, self._ctx.topic("feedback"), [envelope])
            else:
                stored = await conn.fetchrow(
                    "SELECT agent_id, interaction_id, csat, comment FROM surveys WHERE tenant_id = $1 AND survey_id = $2",
                    request.tenant_id,
                    survey_id,
                )
                if stored is not None and tuple(stored) != (
                    request.agent_id,
                    request.interaction_id,
                    request.csat,
                    request.comment,
                ):
                    raise SurveyConflict(
                        f"survey {survey_id} was already recorded with different answers"
                    )
        if inserted:
            self._surveys.labels(str(request.csat)).inc()
        return pb.SubmitSurveyResponse(event_id=survey_id, duplicate=not inserted)


def _roster_handler(ctx: Context) -> Handler:
    """Keeps feedback's copy of the roster, for peer kudos and recognition to come."""

    async def apply(conn: asyncpg.Connection, envelope: envelope_pb2.Envelope) -> None:
        if envelope.WhichOneof("payload") != "agent_updated":
            return  # other roster facts (teams, sites) are not feedback's concern yet
        a = envelope.agent_updated
        # Versions only grow; an older entry arriving late changes nothing.
        await conn.execute(
            "INSERT INTO agents AS g (tenant_id, agent_id, display_name, team_id, site_id, version) "
            "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, agent_id) DO UPDATE SET "
            "display_name = EXCLUDED.display_name, team_id = EXCLUDED.team_id, "
            "site_id = EXCLUDED.site_id, version = EXCLUDED.version, updated_at = now() "
            "WHERE g.version < EXCLUDED.version",
            envelope.tenant_id,
            envelope.agent_id,
            a.display_name,
            a.team_id,
            a.site_id,
            a.version,
        )

    return apply


async def _build(ctx: Context) -> FeedbackServicer:
    return FeedbackServicer(ctx)


SERVICE = ServiceDefinition(
    name="feedback",
    grpc_service="accolade.v1.FeedbackService",
    package="accolade.feedback",
    servicer=_build,
    register=pb_grpc.add_FeedbackServiceServicer_to_server,
    consumers=(ConsumerSpec("roster", ("roster",), _roster_handler),),
)
