"""The gateway over gRPC, on a real PostgreSQL and broker."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
import grpc
import pytest

from accolade.clients import bearer
from accolade.runtime.interceptors import bad_request_violations
from accolade.testing import interaction, metric, outbox_published, read_topic
from accolade.v1 import envelope_pb2, events_pb2
from accolade.v1 import gateway_service_pb2 as pb
from accolade.v1 import gateway_service_pb2_grpc as pb_grpc

ACCEPTED, DUPLICATE, REJECTED = (
    pb.EVENT_STATUS_ACCEPTED,
    pb.EVENT_STATUS_DUPLICATE,
    pb.EVENT_STATUS_REJECTED,
)


async def test_accepted_events_are_durable_published_and_idempotent(start_service, infra) -> None:
    gateway = await start_service("gateway")
    stub = pb_grpc.GatewayServiceStub(gateway.channel)
    events = [interaction("acme", "a1"), interaction("acme", "a2", resolved=False)]

    first = await stub.PublishEvents(pb.PublishEventsRequest(events=events))
    again = await stub.PublishEvents(pb.PublishEventsRequest(events=events))

    assert [r.status for r in first.results] == [ACCEPTED, ACCEPTED]
    assert [r.status for r in again.results] == [DUPLICATE, DUPLICATE]
    assert [r.event_id for r in first.results] == [e.event_id for e in events]
    conn = await asyncpg.connect(gateway.settings.database_url)
    try:
        stored = await conn.fetchval("SELECT count(*) FROM gateway.intake_events")
    finally:
        await conn.close()
    assert stored == 2
    await outbox_published(gateway.settings)
    activity = gateway.settings.topics.topic("activity")
    published = [e for _, e in await read_topic(infra.bootstrap, activity)]
    assert sorted(e.event_id for e in published) == sorted(e.event_id for e in events)
    assert all(e.HasField("recorded_at") for e in published)


async def test_reusing_an_event_id_for_a_different_event_is_rejected(start_service) -> None:
    gateway = await start_service("gateway")
    stub = pb_grpc.GatewayServiceStub(gateway.channel)
    original = interaction("acme", "a1")
    impostor = envelope_pb2.Envelope()
    impostor.CopyFrom(original)
    impostor.agent_id = "someone-else"

    await stub.PublishEvents(pb.PublishEventsRequest(events=[original]))
    reply = await stub.PublishEvents(pb.PublishEventsRequest(events=[impostor]))

    assert reply.results[0].status == REJECTED
    assert reply.results[0].field == "events[0].event_id"


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda e: setattr(e, "event_id", "not-a-uuid"), "events[0].event_id"),
        (lambda e: e.ClearField("occurred_at"), "events[0].occurred_at"),
        (lambda e: e.ClearField("interaction_completed"), "events[0].payload"),
        (
            lambda e: e.badge_awarded.CopyFrom(events_pb2.BadgeAwarded(badge_id="x")),
            "events[0].payload",
        ),
        (
            lambda e: setattr(e.interaction_completed, "channel", events_pb2.CHANNEL_UNSPECIFIED),
            "events[0].interaction_completed.channel",
        ),
        (
            lambda e: e.interaction_completed.handle_time.FromSeconds(-5),
            "events[0].interaction_completed.handle_time",
        ),
        (
            lambda e: e.occurred_at.FromDatetime(datetime.now(UTC) + timedelta(days=1)),
            "events[0].occurred_at",
        ),
    ],
)
async def test_bad_envelopes_get_invalid_argument_naming_the_field(
    start_service, mutate, field
) -> None:
    gateway = await start_service("gateway")
    stub = pb_grpc.GatewayServiceStub(gateway.channel)
    bad = interaction("acme", "a1")
    mutate(bad)

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.PublishEvents(pb.PublishEventsRequest(events=[interaction("acme", "a1"), bad]))

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    fields = [f for f, _ in bad_request_violations(caught.value)]
    assert fields == [field.replace("events[0]", "events[1]")]


async def test_a_stream_of_batches_is_answered_in_order_once_each_is_durable(
    start_service, database_url
) -> None:
    gateway = await start_service("gateway")
    stub = pb_grpc.GatewayServiceStub(gateway.channel)
    batches = [[interaction("acme", f"a{i}-{j}") for j in range(i + 1)] for i in range(5)]
    batches.append([batches[2][1], interaction("acme", "late")])  # one sent again

    async def requests():  # type: ignore[no-untyped-def]
        for b in batches:
            yield pb.StreamEventsRequest(events=b)

    answers = [a async for a in stub.StreamEvents(requests())]

    assert [[r.event_id for r in a.results] for a in answers] == [
        [e.event_id for e in b] for b in batches
    ]
    assert [r.status for r in answers[-1].results] == [DUPLICATE, ACCEPTED]
    conn = await asyncpg.connect(database_url)
    try:
        stored = await conn.fetchval("SELECT count(*) FROM gateway.intake_events")
    finally:
        await conn.close()
    assert stored == sum(len(b) for b in batches) - 1


async def test_the_tenant_of_an_event_comes_from_the_key(start_service, database_url) -> None:
    gateway = await start_service("gateway")
    stub = pb_grpc.GatewayServiceStub(gateway.channel)
    unnamed = interaction("acme", "a1")
    unnamed.tenant_id = ""  # an integrator may leave it out: its key says which tenant
    mixed = [interaction("acme", "a2"), interaction("globex", "a3")]

    reply = await stub.PublishEvents(
        pb.PublishEventsRequest(events=[unnamed]), metadata=bearer(gateway.keys["acme"])
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.PublishEvents(
            pb.PublishEventsRequest(events=mixed), metadata=bearer(gateway.keys["acme"])
        )

    assert [r.status for r in reply.results] == [ACCEPTED]
    # One event of another tenant refuses the whole call, as if that tenant did not exist.
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    conn = await asyncpg.connect(database_url)
    try:
        stored = await conn.fetch("SELECT tenant_id, event_id::text FROM gateway.intake_events")
    finally:
        await conn.close()
    assert [tuple(r) for r in stored] == [("acme", unnamed.event_id)]


async def test_concurrent_one_event_calls_share_commits_and_answer_once_durable(
    start_service, database_url
) -> None:
    gateway = await start_service("gateway")
    stub = pb_grpc.GatewayServiceStub(gateway.channel)
    observer = await asyncpg.create_pool(database_url)
    events = [interaction("acme", f"a{i % 7}") for i in range(40)]

    async def publish(e: envelope_pb2.Envelope) -> tuple[int, bool]:
        reply = await stub.PublishEvents(pb.PublishEventsRequest(events=[e]))
        # Answered only once durable: another session sees the event at once.
        stored = await observer.fetchval(
            "SELECT count(*) FROM gateway.intake_events WHERE event_id = $1", e.event_id
        )
        return reply.results[0].status, stored == 1

    try:
        # Each event twice at the same time, as a retrying integrator might send it.
        answers = await asyncio.gather(*(publish(e) for e in events for _ in range(2)))
        impostor = envelope_pb2.Envelope()
        impostor.CopyFrom(events[0])
        impostor.agent_id = "someone-else"
        rejected = await stub.PublishEvents(pb.PublishEventsRequest(events=[impostor]))
    finally:
        await observer.close()
    for i in range(len(events)):
        assert sorted(answers[2 * i : 2 * i + 2]) == [(ACCEPTED, True), (DUPLICATE, True)], i
    assert rejected.results[0].status == REJECTED
    calls = await metric(
        gateway.metrics_url, "accolade_gateway_commit_group_calls_sum", store="intake_events"
    )
    commits = await metric(
        gateway.metrics_url, "accolade_gateway_commit_group_calls_count", store="intake_events"
    )
    assert calls == 81
    assert commits < calls  # calls that came together were stored together


def activity(**payload: object) -> envelope_pb2.Envelope:
    """An envelope of ana's carrying one of the activity payloads beside interactions."""
    e = interaction("acme", "ana")
    e.ClearField("interaction_completed")
    ((kind, value),) = payload.items()
    getattr(e, kind).CopyFrom(value)
    return e


def metric_reported(name: str, value: float, hours: float) -> events_pb2.MetricReported:
    m = events_pb2.MetricReported(name=name, value=value)
    m.period_start.FromDatetime(datetime(2026, 11, 30, 22, tzinfo=UTC))
    m.period_end.FromDatetime(datetime(2026, 11, 30, 22, tzinfo=UTC) + timedelta(hours=hours))
    return m


async def test_activity_beyond_interactions_is_validated_and_published(
    start_service, infra
) -> None:
    gateway = await start_service("gateway")
    stub = pb_grpc.GatewayServiceStub(gateway.channel)
    good = [
        activity(
            qa_evaluated=events_pb2.QaEvaluated(
                evaluation_id="qa-1",
                form_id="voice-2026",
                score=92.5,
                sections=[events_pb2.QaSection(name="greeting", score=100)],
                evaluator_id="qa.lead",
            )
        ),
        activity(training_completed=events_pb2.TrainingCompleted(course_id="gdpr-101", score=88)),
        activity(
            certification_passed=events_pb2.CertificationPassed(certification_id="billing", level=2)
        ),
        activity(
            adherence_reported=events_pb2.AdherenceReported(
                day="2026-11-30", adherence_percent=96.4
            )
        ),
        activity(metric_reported=metric_reported("night_shift_hours", 7.5, 8)),
    ]
    reply = await stub.PublishEvents(pb.PublishEventsRequest(events=good))
    assert [r.status for r in reply.results] == [ACCEPTED] * 5
    await outbox_published(gateway.settings)
    published = {
        e.event_id: e
        for _, e in await read_topic(infra.bootstrap, gateway.settings.topics.topic("activity"))
    }
    for e in good:
        assert published[e.event_id].WhichOneof("payload") == e.WhichOneof("payload")
        assert getattr(published[e.event_id], e.WhichOneof("payload")) == getattr(
            e, e.WhichOneof("payload")
        )

    bad = [
        activity(qa_evaluated=events_pb2.QaEvaluated(evaluation_id="qa-2", form_id="f", score=101)),
        activity(
            qa_evaluated=events_pb2.QaEvaluated(
                form_id="f", sections=[events_pb2.QaSection(score=5)]
            )
        ),
        activity(training_completed=events_pb2.TrainingCompleted(score=50)),
        activity(
            certification_passed=events_pb2.CertificationPassed(certification_id="c", level=0)
        ),
        activity(
            adherence_reported=events_pb2.AdherenceReported(day="30/11/2026", adherence_percent=90)
        ),
        activity(metric_reported=metric_reported("Night Hours", float("nan"), -1)),
    ]
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.PublishEvents(pb.PublishEventsRequest(events=bad))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in bad_request_violations(caught.value)] == [
        "events[0].qa_evaluated.score",
        "events[1].qa_evaluated.evaluation_id",
        "events[1].qa_evaluated.sections[0].name",
        "events[2].training_completed.course_id",
        "events[3].certification_passed.level",
        "events[4].adherence_reported.day",
        "events[5].metric_reported.name",
        "events[5].metric_reported.value",
        "events[5].metric_reported.period_end",
    ]
