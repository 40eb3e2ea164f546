"""What a consumer does when the group takes partitions away from it."""

from __future__ import annotations

import asyncio

from aiokafka import TopicPartition

from accolade.runtime.consumer import _Rebalance
from accolade.runtime.metrics import Metrics


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
