"""The rank indexes of the board periods being read, kept current from PostgreSQL.

PostgreSQL stays the source of truth; an index is a copy that losing loses nothing. A
board period's index is loaded with one query the first time it is read, and kept
current two ways:

- the scores this process's own consumer writes reach it right after their commit, so
  they can be read at once;
- every `poll_interval` it reads the rows other replicas changed since its last look
  (each replica consumes its own share of the partitions), by `written_by`, so that it
  never reads back its own writes, and by `updated_at` (a writing transaction's start):
  from the horizon of its last look, the start of the oldest transaction then still
  running (`pg_stat_activity.xact_start`), or the look's own time if none was. A row
  committed after a look was written by a transaction that had started by then, or
  started later, so the next look finds it; and only rows of transactions that were
  in flight are read twice, not seconds' worth of every write.

So every replica answers from the same rows, each within about a second of a write.
An index nobody has read for `idle_seconds` is dropped (the board of a past day, say).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import asyncpg
from prometheus_client import Gauge

from accolade.leaderboards._definitions import BoardRule
from accolade.leaderboards._rank import RankIndex

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, slots=True)
class Source:
    """Where one kind of board keeps its scores: the table, its key and value columns."""

    table: str
    key: tuple[str, ...]
    values: tuple[str, ...]


# The built-in board: one score per (tenant, board, UTC day, agent).
PERIOD_SCORES = Source("period_scores", ("tenant_id", "board_id", "period"), ("score",))
# Tenants' boards: the matching events' count and total per version, period and agent.
BOARD_SCORES = Source(
    "board_scores", ("tenant_id", "board_id", "version", "period"), ("n", "total")
)


# From when a look must read: the start of the oldest transaction of this database still
# running (whose rows are not visible yet), or now. Sessions of other roles show no
# xact_start without pg_read_all_stats; the services' own role sees its own.
_HORIZON = (
    "SELECT least(now(), min(xact_start)) FROM pg_stat_activity "
    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
    "AND xact_start IS NOT NULL"
)


class Board:
    """One board period in memory: the ranked agents, and those not yet eligible."""

    def __init__(self, rule: BoardRule | None) -> None:
        self.rule = rule
        self.index = RankIndex(higher_is_better=rule is None or rule.higher)
        # Agents with matching events but fewer than the board's minimum, to their count.
        self.waiting: dict[str, int] = {}

    def _score(self, values: Sequence[Any]) -> tuple[float | None, int]:
        """An agent's score from its stored values (a score; or a count and a total), or
        None while not yet eligible; and its count of events."""
        if self.rule is None:
            return float(values[0]), 0
        n = int(values[0])
        return self.rule.score(n, float(values[1])), n

    def put(self, agent: str, values: Sequence[Any]) -> None:
        """Takes an agent's stored values."""
        score, n = self._score(values)
        if score is None:
            self.index.discard(agent)
            self.waiting[agent] = n
        else:
            self.waiting.pop(agent, None)
            self.index.set(agent, score)

    def load(self, rows: Iterable[Sequence[Any]]) -> None:
        """Replaces everything with `rows` of (agent, values...) at once: one sort."""
        ranked = []
        for row in rows:
            score, n = self._score(row[1:])
            if score is None:
                self.waiting[row[0]] = n
            else:
                ranked.append((row[0], score))
        self.index.load(ranked)

    def __len__(self) -> int:
        return len(self.index) + len(self.waiting)


@dataclasses.dataclass(slots=True)
class _Live:
    board: Board
    loaded: asyncio.Future[Board]
    began: float  # when its load began (loop time)
    read_at: float
    # Values written while the load ran, applied once it is done, in commit order.
    pending: list[tuple[str, Sequence[Any]]] | None = dataclasses.field(default_factory=list)


class LiveBoards:
    """Rank indexes of one kind of board, by board period: loaded on first read, then
    followed."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        source: Source,
        entries: Gauge,
        *,
        writer: str | None = None,
        poll_interval: float = 1.0,
        idle_seconds: float = 600.0,
    ) -> None:
        """Args:
        source: the table the boards' scores are in.
        entries: the gauge of the entries held, labelled by the source's table.
        writer: who this process is in the table's `written_by` (new at every start).
        """
        self._pool = pool
        self.writer = writer or uuid.uuid4().hex
        self._poll_interval = poll_interval
        self._idle_seconds = idle_seconds
        self._boards: dict[tuple[Any, ...], _Live] = {}
        # Set while a poll runs: the agents written meanwhile, whose rows it read older.
        self._fed: set[tuple[tuple[Any, ...], str]] | None = None
        # Where the next look reads from, and how far back the loads since ask it to.
        self._since: datetime | None = None
        self._floor: datetime | None = None
        self._entries = entries.labels(source.table)
        self._key_len = len(source.key)
        where = " AND ".join(f"{c} = ${i}" for i, c in enumerate(source.key, 1))
        self._load_sql = (
            f"SELECT agent_id, {', '.join(source.values)} FROM {source.table} WHERE {where}"  # noqa: S608 - constant names
        )
        self._poll_sql = (
            f"SELECT {', '.join(source.key)}, agent_id, {', '.join(source.values)}, updated_at "  # noqa: S608 - constant names
            f"FROM {source.table} WHERE updated_at >= $1 AND written_by <> $2"
        )

    async def board(self, key: tuple[Any, ...], rule: BoardRule | None = None) -> Board:
        """A board period, loading it first if it is not held.

        Args:
            key: the values of the source's key columns.
            rule: the board version whose scores these are (None for the built-in board).
        """
        loop = asyncio.get_running_loop()
        live = self._boards.get(key)
        if live is None:
            live = self._boards[key] = _Live(
                Board(rule), loop.create_future(), loop.time(), loop.time()
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

    async def _load(self, key: tuple[Any, ...], live: _Live) -> None:
        started = asyncio.get_running_loop().time()
        async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
            # One snapshot: the rows, and from when a look must read to find what it lacks.
            horizon = await conn.fetchval(_HORIZON)
            rows = await conn.fetch(self._load_sql, *key)
        # The next look reads from no later than this: what was in flight at the snapshot.
        self._floor = _earliest(self._floor, horizon)
        live.board.load(rows)
        for agent, values in live.pending or ():
            live.board.put(agent, values)
        live.pending = None
        live.loaded.set_result(live.board)
        log.info(
            "rank index loaded",
            extra={
                "board": "/".join(map(str, key)),
                "entries": len(live.board),
                "seconds": round(asyncio.get_running_loop().time() - started, 3),
            },
        )

    def written(self, rows: Iterable[Sequence[Any]]) -> None:
        """Takes the rows a batch wrote (key columns, agent, values), once committed."""
        k = self._key_len
        for row in rows:
            key, agent, values = tuple(row[:k]), row[k], row[k + 1 :]
            live = self._boards.get(key)
            if live is None:
                continue  # not read here: loaded from the table when it is
            if self._fed is not None:
                self._fed.add((key, agent))
            if live.pending is not None:
                live.pending.append((agent, values))
            else:
                live.board.put(agent, values)

    async def follow(self) -> None:
        """Reads what other replicas wrote, and drops idle indexes, until cancelled."""
        while True:
            await asyncio.sleep(self._poll_interval)
            self._drop_idle()
            await self.poll()
            self._entries.set(sum(len(b.board) for b in self._boards.values()))

    async def poll(self) -> int:
        """Applies the rows other replicas changed since the last poll; returns how many."""
        if not self._boards:
            self._since = self._floor = None  # nothing to follow; a load reads what is there
            return 0
        since, self._floor = _earliest(self._since, self._floor), None
        loop = asyncio.get_running_loop()
        started = loop.time()
        k = self._key_len
        fed: set[tuple[tuple[Any, ...], str]] = set()
        self._fed = fed
        try:
            async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
                horizon = await conn.fetchval(_HORIZON)
                rows = await conn.fetch(self._poll_sql, since, self.writer) if since else []
            for i, row in enumerate(rows):
                if i and not i % 1000:
                    await asyncio.sleep(0)  # queries are answered between chunks
                key, agent = tuple(row[:k]), row[k]
                live = self._boards.get(key)
                # A board loaded after the poll began holds these rows or newer already,
                # and so does one this process wrote since.
                if live is None or live.began > started or (key, agent) in fed:
                    continue
                if live.pending is None:
                    live.board.put(agent, tuple(row[k + 1 : -1]))
        except BaseException:
            self._since = since  # looked at nothing: the next look starts where this one did
            raise
        finally:
            self._fed = None
        # A board loaded meanwhile was loaded from a snapshot of its own: read from there.
        self._since, self._floor = _earliest(horizon, self._floor), None
        return len(rows)

    def _drop_idle(self) -> None:
        now = asyncio.get_running_loop().time()
        for key, live in list(self._boards.items()):
            if live.pending is None and now - live.read_at > self._idle_seconds:
                del self._boards[key]


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    """The earlier of two instants, either of which may be unknown."""
    if a is None or b is None:
        return a or b
    return min(a, b)
