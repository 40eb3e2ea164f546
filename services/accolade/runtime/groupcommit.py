"""Group commit: concurrent requests share transactions, each answered once its own commit is."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

import asyncpg

from accolade.runtime.faults import environment_fault

T = TypeVar("T")
R = TypeVar("R")

# Does the work of several callers' items set-based inside one transaction; returns one
# result per item, in order: a value, or an exception raised to that caller alone.
Flush = Callable[[asyncpg.Connection, Sequence[T]], Awaitable[Sequence[R | BaseException]]]


# A transaction waits for more callers only while fewer than this many are waiting.
_GATHER_BELOW = 32


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()  # the caller went away; nobody else will look


class GroupCommit(Generic[T, R]):
    """Runs callers' items in shared transactions.

    Many integrators send one event per call. A transaction per call would make each call
    wait for its own commit (its fsync), and calls would queue behind each other's. Here an
    item starts a transaction at once when fewer than `max_in_flight` are running; items
    that arrive while they run wait together and go into the next one, so the commit cost is
    shared by everyone who arrived meanwhile. Every caller is answered only after the
    transaction holding its item committed.

    If a shared transaction fails because of the data (not the environment), each of its
    items is tried in a transaction of its own, so one caller's bad item fails that caller
    alone.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        flush: Flush[T, R],
        *,
        max_weight: int = 5000,
        max_in_flight: int = 1,
        transaction: bool = True,
        gather: float = 0.002,
        observe: Callable[[int], object] | None = None,
    ) -> None:
        """Args:
        pool: where transactions run.
        flush: does the work of a group of items in the open transaction.
        max_weight: the most weight (events, say) one transaction takes.
        max_in_flight: how many transactions may run at once.
        transaction: open a transaction around `flush`; without one, `flush` must do its
            work in a single statement (which commits by itself, saving two round trips).
        gather: while calls come concurrently (the last transaction held several), how
            long a transaction waits for more to join before it starts. A lone caller
            never waits.
        observe: told how many calls each transaction answered (for a metric).
        """
        self._pool = pool
        self._flush = flush
        self._max_weight = max_weight
        self._max_in_flight = max_in_flight
        self._transaction = transaction
        self._pending: collections.deque[tuple[T, int, asyncio.Future[R]]] = collections.deque()
        self._running = 0
        self._gather = gather
        self._shared = False
        self._observe = observe
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, item: T, weight: int = 1) -> R:
        """Does `item`'s work in the next shared transaction; returns once that committed.

        Raises:
            BaseException: what `flush` gave for this item, or what failed the transaction.
        """
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, weight, future))
        if self._running < self._max_in_flight:
            self._running += 1
            task = asyncio.create_task(self._drain(), name="group-commit")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        try:
            # Shielded: a caller that goes away does not cancel the others' transaction.
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            future.add_done_callback(_retrieve)
            raise

    async def _drain(self) -> None:
        try:
            while self._pending:
                if self._gather and self._shared and len(self._pending) < _GATHER_BELOW:
                    # Callers have been sharing transactions: they come concurrently, so wait
                    # a moment for more to join rather than commit each on its own.
                    await asyncio.sleep(self._gather)
                group = [self._pending.popleft()]
                weight = group[0][1]
                while self._pending and weight + self._pending[0][1] <= self._max_weight:
                    weight += self._pending[0][1]
                    group.append(self._pending.popleft())
                self._shared = len(group) > 1
                if self._observe is not None:
                    self._observe(len(group))
                await self._commit(group)
        finally:
            self._running -= 1

    async def _commit(self, group: list[tuple[T, int, asyncio.Future[R]]]) -> None:
        try:
            async with self._pool.acquire() as conn:
                items = [item for item, _, _ in group]
                if self._transaction:
                    async with conn.transaction():
                        results = await self._flush(conn, items)
                else:
                    results = await self._flush(conn, items)
        except Exception as exc:  # noqa: BLE001 - every caller gets the outcome, whatever it is
            if len(group) > 1 and environment_fault(exc) is None:
                for entry in group:
                    await self._commit([entry])
                return
            for _, _, future in group:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, _, future), result in zip(group, results, strict=True):
            if future.done():
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)
