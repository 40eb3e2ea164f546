"""Replays and backfills: a tenant's state rebuilt from archived events, or history
counted for new badges."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg

from accolade.achievements import _programs, _store
from accolade.achievements._awards import announcements, close_some, count, evaluate_events
from accolade.achievements._gates import decide
from accolade.rules import calendar, evaluate
from accolade.rules.definitions import Rule
from accolade.rules.tenants import CalendarOf
from accolade.runtime import db, outbox, roster
from accolade.runtime.errors import FailedPrecondition, InvalidArgument
from accolade.runtime.validation import Violations, utcnow
from accolade.v1 import achievements_service_pb2 as pb
from accolade.v1 import envelope_pb2

MAX_DIFFERENCES = 100

# What is compared, per table: the columns that identify a row, then those that must
# be equal. Explanation values are not compared: they are the window as it stood when
# the tier was reached, which depends on how events were split into batches.
_COMPARED = {
    "agent_badges": (
        "agent_id, badge_id, tier_id, award_window",
        "rule_version, xp",
    ),
    "agent_levels": ("agent_id", "xp, level"),
    "badge_windows": (
        "agent_id, badge_id, window_start",
        "n, round(total::numeric, 6) AS total, lo, hi, first_id, last_id",
    ),
    "badge_buckets": (
        "agent_id, badge_id, window_start, bucket",
        "n, round(total::numeric, 6) AS total, lo, hi, first_id, last_id",
    ),
}
# The program, copied into the scratch schema as it is.
_PROGRAM_TABLES = ("badge_definitions", "level_tables", "program_revisions")


def _tenant(held: str | None, sent: str) -> str:
    """The stream's tenant: named by its first message, the same (or unnamed) after."""
    if held is None:
        v = Violations()
        v.identifier("tenant_id", sent)
        v.check()
        return sent
    if sent and sent != held:
        raise InvalidArgument([("tenant_id", "must be the same in every message of the stream")])
    return held


async def replay(
    pool: asyncpg.Pool,
    dsn: str,
    migrations: list[db.Migration],
    cal_of: CalendarOf,
    requests: AsyncIterator[pb.ReplayRequest],
) -> pb.ReplayResponse:
    """Rebuilds a tenant's state from the events of `requests` in a scratch schema, with
    the live program, then compares it with the live state and drops the scratch."""
    scratch = f"achievements_replay_{secrets.token_hex(4)}"
    async with pool.acquire() as conn:
        live = await conn.fetchval("SELECT current_schema()")
    tenant: str | None = None
    work: asyncpg.Connection | None = None
    programs = _programs.Programs(cal_of)  # compiled once, read from the scratch schema
    count = 0
    try:
        async for req in requests:
            tenant = _tenant(tenant, req.tenant_id)
            if work is None:
                work = await _scratch(pool, dsn, migrations, live, scratch, tenant)
            mine = [e for e in req.events if e.tenant_id == tenant]
            count += len(mine)
            await _apply(work, programs, mine)
        if work is None or tenant is None:
            raise InvalidArgument([("tenant_id", "the stream held no message")])
        while await close_some(work, programs, "replay"):
            pass
        compared, differences = await _compare(work, live, scratch, tenant)
    finally:
        if work is not None:
            await work.close()
        async with pool.acquire() as conn:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{scratch}" CASCADE')
    return pb.ReplayResponse(
        events=count,
        compared=compared,
        difference_count=len(differences),
        differences=differences[:MAX_DIFFERENCES],
    )


async def _scratch(
    pool: asyncpg.Pool,
    dsn: str,
    migrations: list[db.Migration],
    live: str,
    scratch: str,
    tenant: str,
) -> asyncpg.Connection:
    """Creates empty tables in `scratch`, with the tenant's program copied in."""
    async with pool.acquire() as conn:
        await db.migrate(conn, scratch, migrations)
        async with conn.transaction():
            for table in _PROGRAM_TABLES:
                await conn.execute(
                    f'INSERT INTO "{scratch}".{table} '  # noqa: S608 - names made here
                    f'SELECT * FROM "{live}".{table} WHERE tenant_id = $1',
                    tenant,
                )
    return await asyncpg.connect(dsn, server_settings={"search_path": scratch})


async def _apply(
    conn: asyncpg.Connection,
    programs: _programs.Programs,
    events: list[envelope_pb2.Envelope],
) -> None:
    """Applies one page of archived events as the consumers did: roster entries kept,
    the rest evaluated as of when they were accepted."""
    entries = [e for e in events if e.WhichOneof("payload") == "agent_updated"]
    others = [e for e in events if e.WhichOneof("payload") != "agent_updated"]
    async with conn.transaction():
        if latest := roster.latest_entries(entries):
            await roster.keep(conn, latest)
        if others:
            now = max(e.recorded_at.ToDatetime(tzinfo=UTC) for e in others)
            await evaluate_events(conn, programs, others, now)


async def _compare(
    conn: asyncpg.Connection, live: str, scratch: str, tenant: str
) -> tuple[int, list[str]]:
    """How many live rows were compared, and each difference in words."""
    compared = 0
    out: list[str] = []
    for table, (key, values) in _COMPARED.items():
        compared += await conn.fetchval(
            f'SELECT count(*) FROM "{live}".{table} WHERE tenant_id = $1',  # noqa: S608
            tenant,
        )
        for first, second, says in ((live, scratch, "live only"), (scratch, live, "replay only")):
            rows = await conn.fetch(
                f'SELECT {key}, {values} FROM "{first}".{table} WHERE tenant_id = $1 '  # noqa: S608
                f'EXCEPT SELECT {key}, {values} FROM "{second}".{table} WHERE tenant_id = $1 '
                f"ORDER BY 1 LIMIT {MAX_DIFFERENCES + 1}",
                tenant,
            )
            out.extend(
                f"{table} {says}: " + ", ".join(f"{k}={v}" for k, v in r.items()) for r in rows
            )
    return compared, out


async def backfill(
    pool: asyncpg.Pool,
    cal_of: CalendarOf,
    topic: str,
    requests: AsyncIterator[pb.BackfillRequest],
) -> pb.BackfillResponse:
    """Counts archived history for new badges, a page at a time.

    First the badges are marked as counting from `since`: from then on the live
    consumer counts events that happened since then too. Every such event, here or
    live, counts only through a claim on it (evaluate.early_claims), so it counts once
    whichever sees it first, and a backfill that is run again (to resume one cut off,
    say) counts nothing twice.
    """
    it = aiter(requests)
    first = await anext(it, None)
    if first is None:
        raise InvalidArgument([("tenant_id", "the stream held no message")])
    tenant = _tenant(None, first.tenant_id)
    v = Violations()
    if not first.badge_ids:
        v.add("badge_ids", "name at least one badge")
    if not first.HasField("since"):
        v.add("since", "is required")
    v.check()
    since = first.since.ToDatetime(tzinfo=UTC)
    cal = cal_of(tenant)
    rules = await _mark(pool, cal, tenant, list(first.badge_ids), since)
    only = {tenant: evaluate.Program.of(rules, cal)}
    programs = _programs.Programs(cal_of)
    counted = awards = 0
    msg: pb.BackfillRequest | None = first
    while msg is not None:
        _tenant(tenant, msg.tenant_id)
        events = [e for e in msg.events if e.tenant_id == tenant]
        async with pool.acquire() as conn, conn.transaction():
            loaded = (await programs.of(conn, [tenant]))[tenant]
            claimed = await _store.claim_early(conn, evaluate.early_claims(events, only, since))
            # Only early events: those after the version came into force counted live.
            mine = {c[3] for c in claimed}
            events = [e for e in events if e.event_id in mine]
            d, found = await count(conn, events, only, since, claimed)
            counted += sum(a.n for a in d.windows.values())
            levels = {tenant: loaded.levels} if loaded.levels else {}
            made, _ = await decide(conn, found, {tenant: loaded.program}, levels, utcnow())
            await outbox.add(conn, topic, announcements(made, {tenant: loaded}))
            awards += len(made.awards)
        msg = await anext(it, None)
    return pb.BackfillResponse(counted=counted, awards=awards)


async def _mark(
    pool: asyncpg.Pool, cal: calendar.Calendar, tenant: str, badges: list[str], since: datetime
) -> list[Rule]:
    """Marks each badge as counting from `since`; returns their rules as marked."""
    async with pool.acquire() as conn, conn.transaction():
        await _programs.lock(conn, tenant)
        loaded = (await _programs.Programs(lambda _t: cal).of(conn, [tenant])).get(tenant)
        if loaded is None:
            raise FailedPrecondition("the tenant has no program")
        rules = [_new_badge(loaded, b, since) for b in badges]
        await conn.execute(
            "UPDATE badge_definitions SET counts_from = $3 "
            "WHERE tenant_id = $1 AND badge_id = ANY($2::text[]) AND version = 1",
            tenant,
            badges,
            since,
        )
        await _programs.bump(conn, tenant)
    return [dataclasses.replace(r, counts_from=since) for r in rules]


def _new_badge(loaded: _programs.Loaded, badge: str, since: datetime) -> Rule:
    """The only version of `badge`, which a backfill may count history for."""
    versions = loaded.program.by_badge.get(badge, ())
    if not versions:
        raise FailedPrecondition(f"the tenant has no badge {badge!r}")
    rule = versions[0]
    if len(versions) > 1 or rule.archived:
        raise FailedPrecondition(
            f"{badge!r} has versions before this one: only a new badge can be backfilled"
        )
    if rule.counts_from is not None and rule.counts_from != since:
        raise FailedPrecondition(
            f"{badge!r} was backfilled from {rule.counts_from.isoformat()}: "
            "run again with that time to resume"
        )
    if since >= rule.effective_at:
        raise InvalidArgument([("since", f"must be before {badge!r} came into force")])
    return rule
