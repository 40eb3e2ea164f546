"""The event archive: what the services consume, each event once, streamed back in pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import grpc
import pytest

from accolade.gateway import _archive
from accolade.testing import caught_up, interaction, produce, survey
from accolade.v1 import gateway_service_pb2 as pb
from accolade.v1 import gateway_service_pb2_grpc as pb_grpc


async def test_each_event_is_archived_once_per_topic_and_exported_in_pages(
    start_service, infra
) -> None:
    gateway = await start_service("gateway")
    stub = pb_grpc.GatewayServiceStub(gateway.channel)
    topics = gateway.settings.topics
    now = datetime.now(UTC)
    # More than a page, over two months; one of them delivered twice.
    activity = [
        interaction("acme", f"a{i % 7}", occurred_at=now - timedelta(days=40 * (i % 2), minutes=i))
        for i in range(_archive.EXPORT_PAGE + 20)
    ]
    await produce(infra.bootstrap, topics.topic("activity"), activity + activity[:1])
    # A survey whose id is an interaction's: a different event on another topic.
    reused = survey("acme", "a1", 5)
    reused.event_id = activity[1].event_id
    await produce(infra.bootstrap, topics.topic("feedback"), [reused])
    await produce(infra.bootstrap, topics.topic("activity"), [interaction("other", "a1")])
    await caught_up(gateway.settings)

    pages = [p async for p in stub.ExportEvents(pb.ExportEventsRequest(tenant_id="acme"))]
    assert [len(p.events) for p in pages] == [_archive.EXPORT_PAGE, 21]
    got = [(a.topic, a.event.event_id) for p in pages for a in p.events]
    assert sorted(got) == sorted(
        [("activity", e.event_id) for e in activity] + [("feedback", reused.event_id)]
    )
    # Only what happened since a time, of one topic.
    since = pb.ExportEventsRequest(tenant_id="acme", topics=["activity"])
    since.since.FromDatetime(now - timedelta(days=1))
    recent = [a.event async for p in stub.ExportEvents(since) for a in p.events]
    assert sorted(e.event_id for e in recent) == sorted(e.event_id for e in activity[::2])

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async for _ in stub.ExportEvents(pb.ExportEventsRequest(tenant_id="acme", topics=["x"])):
            pass
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
