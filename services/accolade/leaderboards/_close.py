"""Period close: freezing the standings of each board period whose time has come, and
announcing its top agents.

A period closes at its end in the board's time zone plus the tenant's lateness as it
stands (the last moment an event of it may still arrive). The closer takes due periods
with `FOR UPDATE SKIP LOCKED`, so replicas share the work and a period a batch is still writing
to waits for that batch; it marks them closed, after which the scores consumer writes
nothing more to them, so their rows are the period's snapshot and queries keep reading
them. In the same transaction it puts one `period_closed` event per top agent (rank 3
or better, ties included) in the outbox, with an id derived from the period and the
agent, so a close is announced exactly once.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

import asyncpg

from accolade.leaderboards._boards import Boards
from accolade.leaderboards._definitions import BoardRule
from accolade.leaderboards._live import Board
from accolade.leaderboards._rank import Entry
from accolade.rules.tenants import CalendarOf
from accolade.runtime import db, outbox
from accolade.v1 import envelope_pb2, events_pb2

log = logging.getLogger(__name__)

# The ranks a close announces: the podium, ties included.
TOP_RANK = 3
# How many periods one transaction closes.
CLOSE_BATCH = 20
_NAMESPACE = uuid.UUID("5d7c2f3e-8a41-4b6e-9c0d-2f4e6a8b1c35")


def period_closed_id(tenant: str, board: str, version: int, period: str, agent: str) -> str:
    """The id of the announcement of an agent's place in a closed period: the same at
    every try, so a close retried after a crash is announced once."""
    return str(uuid.uuid5(_NAMESPACE, f"{tenant}/{board}/{version}/{period}/{agent}"))


def announcements(
    tenant: str, rule: BoardRule, period: str, board: Board, now: datetime
) -> list[envelope_pb2.Envelope]:
    """One period_closed event per agent ranked TOP_RANK or better on `board`."""
    top = _podium(board)
    end = rule.period_end(datetime.fromisoformat(period).date())
    out = []
    for entry in top:
        e = envelope_pb2.Envelope(
            event_id=period_closed_id(tenant, rule.board_id, rule.version, period, entry.agent_id),
            tenant_id=tenant,
            agent_id=entry.agent_id,
            period_closed=events_pb2.PeriodClosed(
                board_id=rule.board_id,
                board_name=rule.name,
                kind=rule.kind,
                version=rule.version,
                period=period,
                period_end=end.isoformat() if end else "",
                rank=entry.rank,
                score=entry.score,
                total_agents=len(board.index),
            ),
        )
        e.occurred_at.FromDatetime(now)
        out.append(e)
    return out


async def close_some(
    conn: asyncpg.Connection, boards: Boards, cal_of: CalendarOf, topic: str, now: datetime
) -> bool:
    """Closes one batch of due periods; returns whether more may be due."""
    # The periods that ended and are open: few (those within their tenant's lateness).
    ended = await conn.fetch(
        "SELECT tenant_id, board_id, version, period, ends_at FROM board_periods "
        "WHERE closed_at IS NULL AND ends_at <= $1 ORDER BY ends_at",
        now,
    )
    due = [tuple(r)[:4] for r in ended if r["ends_at"] + cal_of(r["tenant_id"]).lateness <= now]
    if not due:
        return False
    async with conn.transaction():
        due = await conn.fetch(
            "SELECT p.tenant_id, p.board_id, p.version, p.period FROM board_periods p "
            "JOIN unnest($1::text[], $2::text[], $3::int[], $4::date[]) AS x(t, b, v, d) "
            "  ON p.tenant_id = x.t AND p.board_id = x.b AND p.version = x.v "
            "  AND p.period = x.d "
            "WHERE p.closed_at IS NULL ORDER BY p.ends_at LIMIT $5 FOR UPDATE OF p SKIP LOCKED",
            *db.columns(due, 4),
            CLOSE_BATCH,
        )
        if not due:
            return False
        held = await boards.of(conn, {r["tenant_id"] for r in due})
        made: list[envelope_pb2.Envelope] = []
        for r in due:
            boards_of = held.get(r["tenant_id"])
            rule = boards_of.version(r["board_id"], r["version"]) if boards_of else None
            if rule is None:
                continue  # not a board any more: closed without announcement
            board = Board(rule)
            board.load(
                await conn.fetch(
                    "SELECT s.agent_id, s.n, s.total, '', coalesce(g.site_id, ''), "
                    "  coalesce(g.region_id, '') FROM board_scores s LEFT JOIN agents g "
                    "  ON g.tenant_id = s.tenant_id AND g.agent_id = s.agent_id "
                    "WHERE s.tenant_id = $1 AND s.board_id = $2 AND s.version = $3 "
                    "  AND s.period = $4",
                    *r,
                )
            )
            made += announcements(r["tenant_id"], rule, r["period"].isoformat(), board, now)
        await conn.execute(
            "UPDATE board_periods p SET closed_at = $5 FROM unnest($1::text[], $2::text[], "
            "  $3::int[], $4::date[]) AS x(t, b, v, d) WHERE p.tenant_id = x.t "
            "  AND p.board_id = x.b AND p.version = x.v AND p.period = x.d",
            *db.columns(due, 4),
            now,
        )
        await outbox.add(conn, topic, made)
    log.info("periods closed", extra={"periods": len(due), "announced": len(made)})
    return len(due) == CLOSE_BATCH


def _podium(board: Board) -> list[Entry]:
    """The entries ranked TOP_RANK or better, however many share a rank."""
    n = TOP_RANK
    while True:
        got = board.index.entries(0, n)
        if len(got) < n or got[-1].rank > TOP_RANK:
            return [e for e in got if e.rank <= TOP_RANK]
        n *= 2
