"""The feedback service over gRPC, on a real PostgreSQL and broker."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import grpc
import pytest

from accolade.runtime.interceptors import bad_request_violations
from accolade.testing import outbox_published, read_topic
from accolade.v1 import feedback_service_pb2 as pb
from accolade.v1 import feedback_service_pb2_grpc as pb_grpc


def submission(**fields: object) -> pb.SubmitSurveyRequest:
    """A valid survey about agent a1 of acme, answered five minutes ago, with `fields` changed."""
    request = pb.SubmitSurveyRequest(
        tenant_id="acme",
        agent_id="a1",
        survey_id=str(uuid.uuid4()),
        interaction_id="i-1001",
        csat=4,
        comment="Quick and kind.",
    )
    request.submitted_at.FromDatetime(datetime.now(UTC) - timedelta(minutes=5))
    for name, value in fields.items():
        if name == "submitted_at":
            request.submitted_at.FromDatetime(value)  # type: ignore[arg-type]
        else:
            setattr(request, name, value)
    return request


def altered(request: pb.SubmitSurveyRequest, **fields: object) -> pb.SubmitSurveyRequest:
    """A copy of `request` with `fields` changed."""
    copy = pb.SubmitSurveyRequest()
    copy.CopyFrom(request)
    for name, value in fields.items():
        setattr(copy, name, value)
    return copy


async def test_a_survey_is_stored_and_published_once(start_service, infra) -> None:
    feedback = await start_service("feedback")
    stub = pb_grpc.FeedbackServiceStub(feedback.channel)
    survey = submission()

    # The survey id is a UUID: another spelling of it is the same survey.
    respelled = altered(survey, survey_id=survey.survey_id.upper())

    first = await stub.SubmitSurvey(survey)
    again = await stub.SubmitSurvey(survey)
    again_respelled = await stub.SubmitSurvey(respelled)

    assert (first.event_id, first.duplicate) == (survey.survey_id, False)
    assert (again.event_id, again.duplicate) == (survey.survey_id, True)
    assert (again_respelled.event_id, again_respelled.duplicate) == (survey.survey_id, True)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.SubmitSurvey(altered(survey, csat=5))
    assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert survey.survey_id in (caught.value.details() or "")

    conn = await asyncpg.connect(feedback.settings.database_url)
    try:
        stored = await conn.fetch(
            "SELECT tenant_id, survey_id::text, agent_id, interaction_id, csat, comment, "
            "submitted_at FROM feedback.surveys"
        )
    finally:
        await conn.close()
    assert [tuple(r) for r in stored] == [
        (
            "acme",
            survey.survey_id,
            "a1",
            "i-1001",
            4,
            "Quick and kind.",
            survey.submitted_at.ToDatetime(UTC),
        )
    ]

    await outbox_published(feedback.settings)
    published = await read_topic(infra.bootstrap, feedback.settings.topics.topic("feedback"))
    assert len(published) == 1
    key, event = published[0]
    assert key == b"acme/a1"
    assert (event.event_id, event.tenant_id, event.agent_id) == (survey.survey_id, "acme", "a1")
    assert event.WhichOneof("payload") == "survey_submitted"
    assert event.survey_submitted.survey_id == survey.survey_id
    assert event.survey_submitted.interaction_id == "i-1001"
    assert (event.survey_submitted.csat, event.survey_submitted.comment) == (4, "Quick and kind.")
    assert event.occurred_at == survey.submitted_at
    assert event.HasField("recorded_at")


async def test_invalid_surveys_are_rejected_naming_the_field(start_service) -> None:
    feedback = await start_service("feedback")
    stub = pb_grpc.FeedbackServiceStub(feedback.channel)
    no_time = submission()
    no_time.ClearField("submitted_at")
    cases = {
        "csat 0": (submission(csat=0), "csat"),
        "csat 6": (submission(csat=6), "csat"),
        "no survey id": (submission(survey_id=""), "survey_id"),
        "survey id not a UUID": (submission(survey_id="survey-17"), "survey_id"),
        "comment too long": (submission(comment="x" * 2001), "comment"),
        "answered tomorrow": (
            submission(submitted_at=datetime.now(UTC) + timedelta(days=1)),
            "submitted_at",
        ),
        "no agent": (submission(agent_id=""), "agent_id"),
        "no interaction": (submission(interaction_id=""), "interaction_id"),
        "nps 11": (submission(nps=11), "nps"),
        "nps -1": (submission(nps=-1), "nps"),
    }

    async def fields_named(request: pb.SubmitSurveyRequest) -> list[str]:
        try:
            await stub.SubmitSurvey(request)
        except grpc.aio.AioRpcError as error:
            assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
            return [f for f, _ in bad_request_violations(error)]
        return []

    named = {label: await fields_named(request) for label, (request, _) in cases.items()}

    assert named == {label: [field] for label, (_, field) in cases.items()}
    # The limits themselves are accepted, and submitted_at may be left out (meaning now).
    for request in (submission(csat=1), submission(csat=5, comment="x" * 2000), no_time):
        assert not (await stub.SubmitSurvey(request)).duplicate


async def test_an_nps_answer_is_published_and_part_of_what_a_resend_repeats(
    start_service, infra
) -> None:
    feedback = await start_service("feedback")
    stub = pb_grpc.FeedbackServiceStub(feedback.channel)
    promoter, zero, unasked = submission(nps=10), submission(nps=0), submission()
    for request in (promoter, zero, unasked):
        assert not (await stub.SubmitSurvey(request)).duplicate
    assert (await stub.SubmitSurvey(altered(promoter))).duplicate
    # 0 is an answer, not the absence of one.
    for changed in (altered(zero, csat=zero.csat), altered(promoter, nps=9)):
        if changed.nps == zero.nps:
            changed.ClearField("nps")
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.SubmitSurvey(changed)
        assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS
    await outbox_published(feedback.settings)
    published = {
        e.event_id: e.survey_submitted
        for _, e in await read_topic(infra.bootstrap, feedback.settings.topics.topic("feedback"))
    }
    assert published[promoter.survey_id].nps == 10
    assert published[zero.survey_id].HasField("nps") and published[zero.survey_id].nps == 0
    assert not published[unasked.survey_id].HasField("nps")


async def test_concurrent_surveys_share_commits_and_answer_once_durable(
    start_service, database_url
) -> None:
    feedback = await start_service("feedback")
    stub = pb_grpc.FeedbackServiceStub(feedback.channel)
    observer = await asyncpg.create_pool(database_url)
    surveys = [submission(agent_id=f"a{i % 5}", csat=1 + i % 5) for i in range(30)]

    async def submit(request: pb.SubmitSurveyRequest) -> tuple[bool, bool]:
        reply = await stub.SubmitSurvey(request)
        stored = await observer.fetchval(
            "SELECT count(*) FROM feedback.surveys WHERE survey_id = $1", request.survey_id
        )
        return reply.duplicate, stored == 1

    try:
        # Each survey twice at the same time, and one resent with other answers.
        answers = await asyncio.gather(*(submit(s) for s in surveys for _ in range(2)))
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.SubmitSurvey(altered(surveys[0], csat=5 if surveys[0].csat != 5 else 4))
    finally:
        await observer.close()
    for i in range(len(surveys)):
        assert sorted(answers[2 * i : 2 * i + 2]) == [(False, True), (True, True)], i
    assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS
    await outbox_published(feedback.settings)
    published = await read_topic(
        feedback.settings.kafka_bootstrap, feedback.settings.topics.topic("feedback")
    )
    assert sorted(e.event_id for _, e in published) == sorted(s.survey_id for s in surveys)
