"""The rank indexes of the board periods being read, kept current from PostgreSQL.

PostgreSQL (`period_scores`) stays the source of truth; an index is a copy that losing
loses nothing. A board period's index is loaded with one query the first time it is
read, and kept current two ways:

- the scores this process's own consumer writes reach it right after their commit, so
  they can be read at once;
- every `poll_interval` it reads the rows other replicas changed since its last look
  (each replica consumes its own share of the partitions): by `updated_at`, with an
  overlap of `overlap` seconds for transactions that started earlier but committed
  later, and by `written_by`, so that it never reads back its own writes (at 2,000
  writes a second that would be ten thousand rows a poll, and tens of milliseconds in
  which the event loop answers no query).

So every replica answers from the same rows, each within about a second of a write.
An index nobody has read for `idle_seconds` is dropped (the board of a past day, say).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid
from collections.abc import Iterable
from datetime import date, datetime, timedelta

import asyncpg

from accolade.leaderboards._rank import RankIndex
from accolade.runtime.metrics import Metrics

log = logging.getLogger(__name__)

# (tenant, board, period)
BoardKey = tuple[str, str, date]
# A score as written: (tenant, board, period, agent, score)
Score = tuple[str, str, date, str, float]


@dataclasses.dataclass(slots=True)
class _Live:
    index: RankIndex
    loaded: asyncio.Future[RankIndex]
    began: float  # when its load began (loop time)
    read_at: float
    # Scores written while the load ran, applied once it is done, in commit order.
    pending: list[tuple[str, float]] | None = dataclasses.field(default_factory=list)


class LiveBoards:
    """Rank indexes by board period: loaded on first read, then followed."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        metrics: Metrics,
        *,
        poll_interval: float = 1.0,
        overlap: float = 5.0,
        idle_seconds: float = 600.0,
    ) -> None:
        self._pool = pool
        # Who this process is in `period_scores.written_by`: new at every start.
        self.writer = uuid.uuid4().hex
        self._poll_interval = poll_interval
        self._overlap = timedelta(seconds=overlap)
        self._idle_seconds = idle_seconds
        self._boards: dict[BoardKey, _Live] = {}
        # Set while a poll's query runs: the scores written meanwhile, which are at least
        # as new as what the poll read.
        self._fed: set[tuple[BoardKey, str]] | None = None
        self._since: datetime | None = None
        self._entries = metrics.gauge(
            "rank_index_entries", "Entries held in the rank indexes of the boards being read."
        )

    async def index(self, key: BoardKey) -> RankIndex:
        """The index of a board period, loading it first if it is not held."""
        loop = asyncio.get_running_loop()
        live = self._boards.get(key)
        if live is None:
            live = self._boards[key] = _Live(
                RankIndex(), loop.create_future(), loop.time(), loop.time()
            )
            try:
                await self._load(key, live)
            except BaseException as exc:
                del self._boards[key]
                live.loaded.set_exception(exc)
                live.loaded.exception()  # retrieved: later readers load again
                raise
        live.read_at = loop.time()
        return await asyncio.shield(live.loaded)

    async def _load(self, key: BoardKey, live: _Live) -> None:
        started = asyncio.get_running_loop().time()
        rows = await self._pool.fetch(
            "SELECT agent_id, score FROM period_scores "
            "WHERE tenant_id = $1 AND board_id = $2 AND period = $3",
            *key,
        )
        live.index.load(rows)
        for agent, score in live.pending or ():
            live.index.set(agent, score)
        live.pending = None
        live.loaded.set_result(live.index)
        log.info(
            "rank index loaded",
            extra={
                "tenant": key[0],
                "board": key[1],
                "period": key[2].isoformat(),
                "entries": len(live.index),
                "seconds": round(asyncio.get_running_loop().time() - started, 3),
            },
        )

    def written(self, scores: Iterable[Score]) -> None:
        """Takes the scores a batch wrote, once its transaction committed."""
        for tenant, board, period, agent, score in scores:
            key = (tenant, board, period)
            live = self._boards.get(key)
            if live is None:
                continue  # not read here: loaded from the table when it is
            if self._fed is not None:
                self._fed.add((key, agent))
            if live.pending is not None:
                live.pending.append((agent, score))
            else:
                live.index.set(agent, score)

    async def follow(self) -> None:
        """Reads what other replicas wrote, and drops idle indexes, until cancelled."""
        while True:
            await asyncio.sleep(self._poll_interval)
            self._drop_idle()
            await self.poll()
            self._entries.set(sum(len(b.index) for b in self._boards.values()))

    async def poll(self) -> int:
        """Applies the scores changed since the last poll; returns how many rows it read."""
        if not self._boards:
            self._since = None  # nothing to keep current; a load reads what is there
            return 0
        loop = asyncio.get_running_loop()
        started = loop.time()
        fed: set[tuple[BoardKey, str]] = set()
        self._fed = fed
        try:
            if self._since is None:
                # The boards held were loaded within the overlap before now.
                self._since = await self._pool.fetchval("SELECT now()")
            rows = await self._pool.fetch(
                "SELECT tenant_id, board_id, period, agent_id, score, updated_at "
                "FROM period_scores WHERE updated_at > $1 AND written_by <> $2",
                self._since - self._overlap,
                self.writer,
            )
            for i, (tenant, board, period, agent, score, _) in enumerate(rows):
                if i and not i % 1000:
                    await asyncio.sleep(0)  # queries are answered between chunks
                key = (tenant, board, period)
                live = self._boards.get(key)
                # A board loaded after the poll began holds these rows or newer already,
                # and so does one this process wrote since.
                if live is None or live.began > started or (key, agent) in fed:
                    continue
                if live.pending is None:
                    live.index.set(agent, score)
        finally:
            self._fed = None
        if rows:
            self._since = max(self._since, max(r[5] for r in rows))
        return len(rows)

    def _drop_idle(self) -> None:
        now = asyncio.get_running_loop().time()
        for key, live in list(self._boards.items()):
            if live.pending is None and now - live.read_at > self._idle_seconds:
                del self._boards[key]
