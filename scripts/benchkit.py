"""What the bench's phases share: a steady background load, percentiles, and a process's
memory."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any


async def steady_load(
    publish: Callable[[list[Any]], Awaitable[object]],
    batch: Callable[[int], list[Any]],
    rate: int,
    stop: asyncio.Event,
) -> int:
    """Publishes `rate` events/s in a call every 50 ms until `stop`; returns how many.

    A call does not wait for the one before it to be answered, so a slow answer does not
    lower the rate.
    """
    tick, per_tick = 0.05, max(1, round(rate * 0.05))
    calls: set[asyncio.Task[object]] = set()
    sent = 0
    next_at = time.perf_counter()
    while not stop.is_set():
        call = asyncio.ensure_future(publish(batch(per_tick)))
        calls.add(call)
        call.add_done_callback(calls.discard)
        sent += per_tick
        next_at += tick
        await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
    await asyncio.gather(*calls)
    return sent


def percentile(values: list[float], q: float) -> float:
    """The value below which a share `q` of `values` falls (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def memory_mb(pid: int, field: str = "VmRSS") -> float:
    """A process's resident memory now (VmRSS) or at its peak (VmHWM), in MiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith(field))
    return round(kb / 1024, 1)
