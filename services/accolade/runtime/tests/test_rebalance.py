"""What a consumer does when the group takes partitions away from it."""

from __future__ import annotations

import asyncio
import collections

from aiokafka import TopicPartition

from accolade.runtime.consumer import _Rebalance
from accolade.runtime.metrics import Metrics
from accolade.runtime.tests.kit import Kit, envelope, running, total


async def test_revoked_partitions_stop_reporting_lag_after_the_batch_in_flight() -> None:
    metrics = Metrics.create("achievements")
    metrics.consumer_lag.labels("t.activity.v1", "0").set(42)
    metrics.consumer_lag.labels("t.activity.v1", "1").set(7)
    lock = asyncio.Lock()
    listener = _Rebalance(lock, metrics)

    await lock.acquire()  # a batch is in flight
    revoking = asyncio.create_task(
        listener.on_partitions_revoked([TopicPartition("t.activity.v1", 0)])
    )
    await asyncio.sleep(0.05)
    assert not revoking.done(), "partitions were given away before the batch committed"
    lock.release()
    await revoking

    def lag(partition: str) -> float | None:
        return metrics.registry.get_sample_value(
            "accolade_achievements_consumer_lag_messages",
            {"topic": "t.activity.v1", "partition": partition},
        )

    assert lag("0") is None
    assert lag("1") == 7


async def test_two_members_of_a_group_share_the_work_and_apply_each_event_once(
    kit: Kit, eventually
) -> None:
    first_metrics, second_metrics = Metrics.create("rt"), Metrics.create("rt")
    first, second = kit.inbox(first_metrics), kit.inbox(second_metrics)
    sent: list[str] = []
    stop = asyncio.Event()

    async def feed() -> None:
        # Agents a0-a5 spread over both partitions; events keep coming through every rebalance.
        i = 0
        while not stop.is_set():
            e = envelope(f"a{i % 6}")
            await kit.send(e)
            sent.append(e.event_id)
            i += 1
            await asyncio.sleep(0.02)

    feeding = asyncio.create_task(feed())
    try:
        async with running(first):
            await eventually(
                lambda: total(first_metrics, "events_applied") > 0, "the first member applies"
            )
            async with running(second):
                # The group rebalances: each member gets one of the two partitions.
                await eventually(
                    lambda: total(second_metrics, "events_applied") > 0, "the second member applies"
                )
                consumed = total(first_metrics, "events_consumed")
                await eventually(
                    lambda: total(first_metrics, "events_consumed") > consumed,
                    "the first member still applies its share",
                )
            # The second member left: the first takes its partition back.
            left = total(first_metrics, "events_consumed")
            await eventually(
                lambda: total(first_metrics, "events_consumed") > left + 10,
                "the first member alone again",
            )
            stop.set()
            await feeding
            await eventually(kit.all_committed, "everything applied and committed", within=40)
    finally:
        stop.set()
        await asyncio.gather(feeding, return_exceptions=True)

    applied = collections.Counter(event_id for event_id, _ in await kit.effects())
    assert applied == dict.fromkeys(sent, 1)
    # Both members applied part of it, and between them each event once.
    shares = [total(m, "events_applied") for m in (first_metrics, second_metrics)]
    assert all(shares) and sum(shares) == len(sent)
