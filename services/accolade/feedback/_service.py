"""The feedback service's gRPC API."""

from __future__ import annotations

import grpc

from accolade.feedback import _surveys
from accolade.feedback._roster import roster_handler
from accolade.runtime.auth import access
from accolade.runtime.identity import INTEGRATION
from accolade.runtime.limits import INTAKE
from accolade.runtime.service import ConsumerSpec, Context, ServiceDefinition
from accolade.runtime.validation import utcnow
from accolade.v1 import feedback_service_pb2 as pb
from accolade.v1 import feedback_service_pb2_grpc as pb_grpc


class FeedbackServicer(pb_grpc.FeedbackServiceServicer):
    """Records surveys and publishes them as feedback events."""

    def __init__(self, ctx: Context) -> None:
        self._store = _surveys.Surveys(ctx.pool, ctx.topic("feedback"), ctx.metrics)
        self._recorded = ctx.metrics.counter(
            "surveys_recorded", "New surveys recorded, by CSAT score.", ("csat",)
        )

    async def SubmitSurvey(
        self, request: pb.SubmitSurveyRequest, context: grpc.aio.ServicerContext
    ) -> pb.SubmitSurveyResponse:
        survey = _surveys.validate(request, utcnow())
        new = await self._store.record(survey)
        if new:
            self._recorded.labels(str(survey.csat)).inc()
        return pb.SubmitSurveyResponse(event_id=survey.survey_id, duplicate=not new)


async def _build(ctx: Context) -> FeedbackServicer:
    return FeedbackServicer(ctx)


SERVICE = ServiceDefinition(
    name="feedback",
    grpc_service="accolade.v1.FeedbackService",
    package="accolade.feedback",
    servicer=_build,
    register=pb_grpc.add_FeedbackServiceServicer_to_server,
    consumers=(ConsumerSpec("roster", ("roster",), roster_handler),),
    access={"SubmitSurvey": access(INTEGRATION, limit=INTAKE)},
)
