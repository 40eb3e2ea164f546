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
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

import asyncpg
from prometheus_client import Gauge

from accolade.leaderboards._definitions import BoardRule, Explained
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
# The tenants whose roster entries changed since a look: their scoped boards are stale.
_MOVED = "SELECT DISTINCT tenant_id FROM agents WHERE updated_at >= $1"
_HORIZON = (
    "SELECT least(now(), min(xact_start)) FROM pg_stat_activity "
    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
    "AND xact_start IS NOT NULL"
)


# Where the roster places an agent: (team, site, region); "" where it places them nowhere.
Place = tuple[str, str, str]
# The scopes a board is ranked in: the whole tenant, or one team, site or region.
SCOPE_KINDS = ("team", "site", "region")


def scope_of(scope: str) -> tuple[str, str] | None:
    """A query's scope ("" for the tenant, or "team:ID", "site:ID", "region:ID") as
    (kind, id), ("", "") for the tenant; None when it names no scope."""
    if not scope:
        return ("", "")
    kind, _, value = scope.partition(":")
    return (kind, value) if kind in SCOPE_KINDS and value else None


def scopes_of(place: Place) -> list[str]:
    """Every scope an agent of `place` is ranked in: the tenant first."""
    return ["", *(f"{k}:{v}" for k, v in zip(SCOPE_KINDS, place, strict=True) if v)]


class Board:
    """One board period in one scope in memory: the ranked agents, and those not yet
    eligible."""

    def __init__(self, rule: BoardRule | None) -> None:
        self.rule = rule
        self.index = RankIndex(higher_is_better=rule is None or rule.higher)
        # Agents with matching events but not yet eligible, to the events they still need.
        self.waiting: dict[str, int] = {}
        # For a scorecard, each agent's stored values and place, to explain their score.
        self.held: dict[str, tuple[Sequence[Any], Place]] = {}

    def _score(self, values: Sequence[Any], place: Place) -> tuple[float | None, int]:
        """An agent's score from its stored values (a score; or each part's counts and
        totals), or None while not yet eligible; and the events it still needs."""
        if self.rule is None:
            return float(values[0]), 0
        score = self.rule.score(values[0], values[1], place[1], place[2])
        return score, self.rule.needed(values[0]) if score is None else 0

    def put(self, agent: str, values: Sequence[Any], place: Place) -> None:
        """Takes an agent's stored values."""
        score, needed = self._score(values, place)
        if self.rule is not None and self.rule.scorecard:
            self.held[agent] = (values, place)
        if score is None:
            self.index.discard(agent)
            self.waiting[agent] = needed
        else:
            self.waiting.pop(agent, None)
            self.index.set(agent, score)

    def load(self, rows: Iterable[Sequence[Any]]) -> None:
        """Replaces everything with `rows` of (agent, values..., team, site, region) at
        once: one sort."""
        ranked = []
        keep = self.rule is not None and self.rule.scorecard
        for row in rows:
            values, place = row[1:-3], tuple(row[-3:])
            score, needed = self._score(values, place)
            if keep:
                self.held[row[0]] = (values, place)
            if score is None:
                self.waiting[row[0]] = needed
            else:
                ranked.append((row[0], score))
        self.index.load(ranked)

    def explain(self, agent: str) -> list[Explained]:
        """How a scorecard's score of `agent` adds up; empty for other boards."""
        held = self.held.get(agent)
        if self.rule is None or held is None:
            return []
        (n, total, *_), place = held
        return self.rule.explain(n, total, place[1], place[2])

    def __len__(self) -> int:
        return len(self.index) + len(self.waiting)


@dataclasses.dataclass(slots=True)
class _Live:
    board: Board
    loaded: asyncio.Future[Board]
    began: float  # when its load began (loop time)
    read_at: float
    # Values written while the load ran, applied once it is done, in commit order.
    pending: list[tuple[str, Sequence[Any], Place]] | None = dataclasses.field(default_factory=list)


class LiveBoards:
    """Rank indexes of one kind of board, by board period and scope: loaded on first
    read, then followed."""

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
        # By the source's key values and then the scope ("" or "team:ID" and so on).
        self._boards: dict[tuple[Any, ...], _Live] = {}
        self._scoped = 0  # how many of them rank a team, a site or a region
        # Set while a poll runs: the agents written meanwhile, whose rows it read older.
        self._fed: set[tuple[tuple[Any, ...], str]] | None = None
        # Where the next look reads from, and how far back the loads since ask it to.
        self._since: datetime | None = None
        self._floor: datetime | None = None
        self._entries = entries.labels(source.table)
        self._key_len = len(source.key)
        where = " AND ".join(f"s.{c} = ${i}" for i, c in enumerate(source.key, 1))
        columns = ", ".join(f"s.{c}" for c in source.values)
        place = ", ".join(f"coalesce(g.{k}_id, '')" for k in SCOPE_KINDS)
        joined = (
            f"{source.table} s LEFT JOIN agents g "
            "ON g.tenant_id = s.tenant_id AND g.agent_id = s.agent_id"
        )
        self._load_sql = f"SELECT s.agent_id, {columns}, {place} FROM {joined} WHERE {where}"  # noqa: S608 - constant names
        keys = ", ".join(f"s.{c}" for c in source.key)
        self._poll_sql = (
            f"SELECT {keys}, s.agent_id, {columns}, {place}, s.updated_at FROM {joined} "  # noqa: S608 - constant names
            "WHERE s.updated_at >= $1 AND s.written_by <> $2"
        )

    async def board(self, key: tuple[Any, ...], rule: BoardRule | None = None) -> Board:
        """A board period in a scope, loading it first if it is not held.

        Args:
            key: the values of the source's key columns, then the scope ("" for the
                tenant, or "team:ID", "site:ID" or "region:ID").
            rule: the board version whose scores these are (None for the built-in board).
        """
        loop = asyncio.get_running_loop()
        live = self._boards.get(key)
        if live is None:
            live = _Live(Board(rule), loop.create_future(), loop.time(), loop.time())
            self._hold(key, live)
            try:
                await self._load(key, live)
            except BaseException as exc:
                self._forget(key, live)
                live.loaded.set_exception(exc)
                live.loaded.exception()  # retrieved: later readers load again
                raise
        live.read_at = loop.time()
        return await asyncio.shield(live.loaded)

    def _hold(self, key: tuple[Any, ...], live: _Live) -> None:
        self._boards[key] = live
        self._scoped += bool(key[-1])

    def _forget(self, key: tuple[Any, ...], live: _Live) -> None:
        if self._boards.get(key) is live:
            del self._boards[key]
            self._scoped -= bool(key[-1])

    async def _load(self, key: tuple[Any, ...], live: _Live) -> None:
        started = asyncio.get_running_loop().time()
        sql, args = self._load_sql, list(key[:-1])
        if key[-1]:
            kind, value = key[-1].split(":", 1)
            sql += f" AND g.{kind}_id = ${len(args) + 1}"
            args.append(value)
        async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
            # One snapshot: the rows, and from when a look must read to find what it lacks.
            horizon = await conn.fetchval(_HORIZON)
            rows = await conn.fetch(sql, *args)
        # The next look reads from no later than this: what was in flight at the snapshot.
        self._floor = _earliest(self._floor, horizon)
        live.board.load(rows)
        for agent, values, place in live.pending or ():
            live.board.put(agent, values, place)
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

    def _held(self, base: tuple[Any, ...], place: Place) -> Iterator[tuple[tuple[Any, ...], _Live]]:
        """The loaded boards a row of board period `base` and an agent of `place` is in."""
        for scope in scopes_of(place) if self._scoped else ("",):
            key = (*base, scope)
            if (live := self._boards.get(key)) is not None:
                yield key, live

    def written(self, rows: Iterable[Sequence[Any]]) -> None:
        """Takes the rows a batch wrote (key columns, agent, values, team, site, region),
        once committed."""
        k = self._key_len
        for row in rows:
            base, agent, values, place = tuple(row[:k]), row[k], row[k + 1 : -3], row[-3:]
            for key, live in self._held(base, place):  # type: ignore[arg-type]
                if self._fed is not None:
                    self._fed.add((key, agent))
                if live.pending is not None:
                    live.pending.append((agent, values, place))  # type: ignore[arg-type]
                else:
                    live.board.put(agent, values, place)  # type: ignore[arg-type]

    async def follow(self) -> None:
        """Reads what other replicas wrote, and drops idle indexes, until cancelled."""
        while True:
            await asyncio.sleep(self._poll_interval)
            self._drop_idle()
            await self.poll()
            self._entries.set(sum(len(b.board) for b in self._boards.values()))

    async def poll(self) -> int:
        """Applies the rows other replicas changed since the last poll; returns how many.

        A board of a team, a site or a region is dropped when the roster moved an agent
        of its tenant since, and loaded again when next read.
        """
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
                moved = await conn.fetch(_MOVED, since) if since else []
            self._moved({r[0] for r in moved})
            for i, row in enumerate(rows):
                if i and not i % 1000:
                    await asyncio.sleep(0)  # queries are answered between chunks
                base, agent, place = tuple(row[:k]), row[k], tuple(row[-4:-1])
                for key, live in self._held(base, place):
                    # A board loaded after the poll began holds these rows or newer
                    # already, and so does one this process wrote since.
                    if live.began > started or (key, agent) in fed or live.pending is not None:
                        continue
                    live.board.put(agent, tuple(row[k + 1 : -4]), place)
        except BaseException:
            self._since = since  # looked at nothing: the next look starts where this one did
            raise
        finally:
            self._fed = None
        # A board loaded meanwhile was loaded from a snapshot of its own: read from there.
        self._since, self._floor = _earliest(horizon, self._floor), None
        return len(rows)

    def _moved(self, tenants: set[str]) -> None:
        """Drops the boards of tenants whose roster changed that it may change: those of
        a team, a site or a region (who is in them), and scorecards weighted by region
        or site (an agent's weights)."""
        if tenants:
            for key, live in list(self._boards.items()):
                rule = live.board.rule
                if key[0] in tenants and (key[-1] or (rule is not None and rule.weights)):
                    self._forget(key, live)

    def _drop_idle(self) -> None:
        now = asyncio.get_running_loop().time()
        for key, live in list(self._boards.items()):
            if live.pending is None and now - live.read_at > self._idle_seconds:
                self._forget(key, live)


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    """The earlier of two instants, either of which may be unknown."""
    if a is None or b is None:
        return a or b
    return min(a, b)
