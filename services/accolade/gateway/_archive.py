"""The event archive: every event the services consume, kept by month for replays."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import asyncpg

from accolade.rules import calendar
from accolade.runtime import db
from accolade.runtime.inbox import Batch, BatchHandler
from accolade.runtime.service import Context
from accolade.v1 import envelope_pb2

# The topics archived: what the services consume from outside.
TOPICS = ("activity", "feedback", "roster")
EXPORT_PAGE = 500
# Partitions are UTC months.
UTC_ZONE = calendar.zone("UTC")


def _month_after(month: date) -> date:
    return calendar.window_end(month, "month") or month  # a month always ends


async def ensure_partitions(conn: asyncpg.Connection, months: set[date], known: set[date]) -> None:
    """Creates the partitions of `months` not in `known`, those created before."""
    missing = sorted(months - known)
    if not missing:
        return
    # Replicas may meet a new month at once; they take turns creating it.
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('gateway.event_archive'))")
    for m in missing:
        await conn.execute(
            f"CREATE TABLE IF NOT EXISTS event_archive_{m:%Y_%m} PARTITION OF event_archive "
            f"FOR VALUES FROM ('{m.isoformat()}') TO ('{_month_after(m).isoformat()}')"
        )


def _micros(seconds: int, nanos: int) -> int:
    return seconds * 1_000_000 + nanos // 1000


def archive_handler(ctx: Context) -> BatchHandler:
    """Archives each batch with one insert; an event archived before is skipped."""
    known: set[date] = set()
    # The months seen, as [start, end) in seconds since the epoch: almost every event
    # falls in the last one, so no event needs a date of its own.
    spans: list[tuple[int, int, date]] = []

    def month_at(seconds: int) -> date:
        for lo, hi, m in reversed(spans):
            if lo <= seconds < hi:
                return m
        m = datetime.fromtimestamp(seconds, UTC).date().replace(day=1)
        start, end = calendar.window_bounds(m, "month", UTC_ZONE)
        if start is not None and end is not None:  # (a month is bounded)
            spans.append((int(start.timestamp()), int(end.timestamp()), m))
        return m

    async def apply(batch: Batch) -> None:
        rows = []
        months: set[date] = set()
        for e in batch.events:
            topic, raw = batch.origin(e)
            at, rec = e.occurred_at, e.recorded_at
            months.add(month_at(at.seconds))
            rows.append(
                (
                    e.tenant_id,
                    topic,
                    e.event_id,
                    _micros(at.seconds, at.nanos),
                    _micros(rec.seconds, rec.nanos),
                    raw,
                )
            )
        await ensure_partitions(batch.conn, months, known)
        # Known once the transaction that created them has committed.
        batch.after_commit(lambda: known.update(months))
        # Instants as microseconds and ids as text, converted by PostgreSQL: cheaper
        # than encoding each as a datetime and a UUID here.
        await batch.conn.execute(
            "INSERT INTO event_archive (tenant_id, topic, event_id, occurred_at, recorded_at, "
            "  envelope) "
            "SELECT t, p, e::uuid, timestamptz 'epoch' + o * interval '1 microsecond', "
            "  timestamptz 'epoch' + r * interval '1 microsecond', v "
            "FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], "
            "  $6::bytea[]) AS x(t, p, e, o, r, v) ON CONFLICT DO NOTHING",
            *db.columns(rows, 6),
        )

    return apply


async def export(
    pool: asyncpg.Pool,
    tenant: str,
    topics: tuple[str, ...],
    since: datetime | None,
    until: datetime | None,
) -> AsyncIterator[list[tuple[str, envelope_pb2.Envelope]]]:
    """A tenant's archived events of `topics` that happened in [since, until), in the
    order they were accepted, a page at a time (each page one short query)."""
    after: tuple[datetime, str] | None = None
    lo = since or datetime(1970, 1, 1, tzinfo=UTC)
    hi = until or datetime(9999, 1, 1, tzinfo=UTC)
    while True:
        async with pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT topic, envelope, recorded_at, event_id::text FROM event_archive "
                "WHERE tenant_id = $1 AND topic = ANY($2::text[]) "
                "  AND occurred_at >= $3 AND occurred_at < $4 "
                "  AND ($5::timestamptz IS NULL OR (recorded_at, event_id) > ($5, $6::uuid)) "
                "ORDER BY recorded_at, event_id LIMIT $7",
                tenant,
                list(topics),
                lo,
                hi,
                after[0] if after else None,
                after[1] if after else None,
                EXPORT_PAGE,
            )
        if not rows:
            return
        yield [(r[0], envelope_pb2.Envelope.FromString(r[1])) for r in rows]
        after = (rows[-1][2], rows[-1][3])
        if len(rows) < EXPORT_PAGE:
            return
