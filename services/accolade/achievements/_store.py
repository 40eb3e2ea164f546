"""The rules engine's state in PostgreSQL: windows, buckets, awards and levels, set-based.

Each function is one statement (or two) for a whole batch, merging exactly as
accolade.rules.memory does, so what is stored here equals a recomputation.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg

from accolade.rules import calendar
from accolade.rules.aggregates import Agg
from accolade.rules.definitions import Levels
from accolade.rules.evaluate import (
    Award,
    Claim,
    Deltas,
    Program,
    WindowKey,
    closes_at,
)
from accolade.runtime import db
from accolade.runtime.conditions import occurred_at

# Award and level event ids derive from what they announce, so a replay emits the same ids.
_AWARD_NAMESPACE = uuid.UUID("7f1c1e0e-5a43-4d0c-9c55-3d0f1f6b0a01")
AGG = "n, total, lo, hi, first_at, first_id::text, last_at, last_id::text"
# Merging one aggregate row into another, as Agg.merge does.
_MERGE = (
    "n = s.n + EXCLUDED.n, total = s.total + EXCLUDED.total, "
    "lo = LEAST(s.lo, EXCLUDED.lo), hi = GREATEST(s.hi, EXCLUDED.hi), "
    "first_at = CASE WHEN (EXCLUDED.first_at, EXCLUDED.first_id) < (s.first_at, s.first_id) "
    "  THEN EXCLUDED.first_at ELSE s.first_at END, "
    "first_id = CASE WHEN (EXCLUDED.first_at, EXCLUDED.first_id) < (s.first_at, s.first_id) "
    "  THEN EXCLUDED.first_id ELSE s.first_id END, "
    "last_at = CASE WHEN (EXCLUDED.last_at, EXCLUDED.last_id) > (s.last_at, s.last_id) "
    "  THEN EXCLUDED.last_at ELSE s.last_at END, "
    "last_id = CASE WHEN (EXCLUDED.last_at, EXCLUDED.last_id) > (s.last_at, s.last_id) "
    "  THEN EXCLUDED.last_id ELSE s.last_id END"
)
# Instants travel as microseconds since the epoch and ids as text: encoding a batch's
# thousands of datetimes and UUIDs cost a third of the consumer's time.
_AGG_TYPES = (
    "$5::bigint[], $6::float8[], $7::float8[], $8::float8[], "
    "$9::bigint[], $10::text[], $11::bigint[], $12::text[]"
)
_AGG_NAMES = "n, total, lo, hi, fa, fi, la, li"
_AGG_VALUES = (
    "n, total, lo, hi, timestamptz 'epoch' + fa * interval '1 microsecond', fi::uuid, "
    "timestamptz 'epoch' + la * interval '1 microsecond', li::uuid"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


# The statements are built once from the constants above; every value is a parameter.
_COLUMNS = AGG.replace("::text", "")
_MERGE_WINDOWS = (
    "INSERT INTO badge_windows AS s (tenant_id, agent_id, badge_id, window_start, "  # noqa: S608
    f"  {_COLUMNS}, time_zone, closes_at) "
    f"SELECT t, a, b, w, {_AGG_VALUES}, tz, cl "
    f"FROM unnest($1::text[], $2::text[], $3::text[], $4::date[], {_AGG_TYPES}, "
    f"  $13::text[], $14::timestamptz[]) AS x(t, a, b, w, {_AGG_NAMES}, tz, cl) "
    f"ON CONFLICT (tenant_id, agent_id, badge_id, window_start) DO UPDATE SET {_MERGE} "
    f"RETURNING tenant_id, agent_id, badge_id, window_start, {AGG}"
)
_MERGE_BUCKETS = (
    "INSERT INTO badge_buckets AS s (tenant_id, agent_id, badge_id, window_start, bucket, "  # noqa: S608
    f"  {_COLUMNS}) "
    f"SELECT t, a, b, w, k, {_AGG_VALUES} "
    "FROM unnest($1::text[], $2::text[], $3::text[], $4::date[], $13::date[], "
    f"  {_AGG_TYPES}) AS x(t, a, b, w, k, {_AGG_NAMES}) "
    f"ON CONFLICT (tenant_id, agent_id, badge_id, window_start, bucket) DO UPDATE SET {_MERGE}"
)
_READ_BUCKETS = (
    f"SELECT s.tenant_id, s.agent_id, s.badge_id, s.window_start, s.bucket, {AGG} "  # noqa: S608
    # (AGG's columns are the buckets' own: x's names must not shadow them)
    "FROM badge_buckets s JOIN unnest($1::text[], $2::text[], $3::text[], $4::date[], "
    "  $5::date[], $6::date[]) AS x(t, a, b, w, since, until) "
    "ON s.tenant_id = x.t AND s.agent_id = x.a AND s.badge_id = x.b AND s.window_start = x.w "
    "  AND s.bucket BETWEEN x.since AND x.until"
)


# (tenant, agent, badge, tier, award window): what an award is stored once by.
AwardKey = tuple[str, str, str, str, date]


def award_key(aw: Award) -> AwardKey:
    """The key `aw` is stored by."""
    return (aw.key[0], aw.key[1], aw.rule.badge_id, aw.tier.id, aw.award_window)


def award_event_id(tenant_id: str, agent_id: str, badge_id: str, tier: str, window: date) -> str:
    """The id of the event announcing an award."""
    return str(uuid.uuid5(_AWARD_NAMESPACE, f"{tenant_id}/{agent_id}/{badge_id}/{tier}/{window}"))


def level_event_id(tenant_id: str, agent_id: str, level: int) -> str:
    """The id of the event announcing that an agent reached a level."""
    return str(uuid.uuid5(_AWARD_NAMESPACE, f"{tenant_id}/{agent_id}/level/{level}"))


def _agg_fields(a: Agg) -> tuple[Any, ...]:
    first = (a.first[0] - _EPOCH) // _MICROSECOND
    last = (a.last[0] - _EPOCH) // _MICROSECOND
    return (a.n, a.total, a.lo, a.hi, first, a.first[1], last, a.last[1])


def agg_of(r: Sequence[Any], at: int) -> Agg:
    """The aggregate in row `r`'s eight columns from `at`."""
    return Agg(
        r[at], r[at + 1], r[at + 2], r[at + 3], (r[at + 4], r[at + 5]), (r[at + 6], r[at + 7])
    )


async def record_late(conn: asyncpg.Connection, d: Deltas) -> None:
    """Records the events that came too late to count."""
    if d.too_late:
        await conn.execute(
            "INSERT INTO late_events (tenant_id, event_id, agent_id, occurred_at) "
            "SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::timestamptz[]) "
            "ON CONFLICT DO NOTHING",
            *db.columns(
                [(e.tenant_id, e.event_id, e.agent_id, occurred_at(e)) for e in d.too_late],
                4,
            ),
        )


async def merge_windows(
    conn: asyncpg.Connection, d: Deltas, programs: Mapping[str, Program]
) -> dict[WindowKey, Agg]:
    """Adds the batch's window deltas to what is stored; returns the merged windows."""
    if not d.windows:
        return {}
    rows = []
    for key, a in d.windows.items():
        tz = d.zones[key[:2]]
        program = programs[key[0]]
        rule = program.version_at(key[2], a.last[0])
        closes = closes_at(rule, key[3], tz, program.cal) if rule else None
        rows.append((*key, *_agg_fields(a), tz.key, closes))
    merged = await conn.fetch(
        _MERGE_WINDOWS,
        *db.columns(rows, 14),
    )
    return {(r[0], r[1], r[2], r[3]): agg_of(r, 4) for r in merged}


async def merge_buckets(
    conn: asyncpg.Connection, d: Deltas, programs: Mapping[str, Program]
) -> dict[WindowKey, dict[date, Agg]]:
    """Adds the batch's bucket deltas; returns, per window touched, the buckets that
    its standing needs (for a rolling window, those within reach of a changed day)."""
    if not d.buckets:
        return {}
    await conn.execute(
        _MERGE_BUCKETS,
        *db.columns([(*k[:4], *_agg_fields(a), k[4]) for k, a in d.buckets.items()], 13),
    )
    reach: dict[WindowKey, tuple[date, date]] = {}
    for (t, a, b, w, bucket), agg in d.buckets.items():
        # The window kind of the version that counted the bucket's events, as in awards.
        rule = programs[t].version_at(b, agg.last[0])
        window = rule.window if rule is not None else ""
        span = timedelta(days=calendar.ROLLING_DAYS.get(window, 0) - 1)
        if window not in calendar.ROLLING_DAYS:
            lo, hi = date.min, date.max
        else:
            lo, hi = bucket - span, bucket + span
        held = reach.get((t, a, b, w))
        reach[(t, a, b, w)] = (min(lo, held[0]), max(hi, held[1])) if held else (lo, hi)
    rows = await conn.fetch(
        _READ_BUCKETS,
        *db.columns([(*k, lo, hi) for k, (lo, hi) in reach.items()], 6),
    )
    out: dict[WindowKey, dict[date, Agg]] = {}
    for r in rows:
        out.setdefault((r[0], r[1], r[2], r[3]), {})[r[4]] = agg_of(r, 5)
    return out


@dataclasses.dataclass(frozen=True, slots=True)
class Made:
    """What storing a set of awards produced: the new awards and the levels reached."""

    awards: list[Award]
    levels: list[tuple[str, str, int, int, int]]  # tenant, agent, level, xp, table version


async def store_awards(
    conn: asyncpg.Connection,
    found: Sequence[Award],
    levels: Mapping[str, Levels],
    now: datetime,
) -> Made:
    """Stores the awards not held yet, and adds their XP; returns what is new.

    Args:
        levels: each tenant's accolade.rules.definitions.Levels, if it has a level table.
    """
    if not found:
        return Made([], [])
    by_key = {award_key(aw): aw for aw in found}
    rows = []
    for (t, a, b, tier, w), aw in by_key.items():
        s = aw.standing
        rows.append(
            (
                *(t, a, b, tier, w, aw.rule.version, aw.tier.xp, s.value, aw.tier.threshold),
                *(s.start, s.end, s.agg.n, s.agg.first[1], s.agg.last[1]),
                *(award_event_id(t, a, b, tier, w), aw.rule.name, aw.rule.description),
                *(s.agg.last[0], aw.rule.window),
            )
        )
    inserted = await conn.fetch(
        "INSERT INTO agent_badges (tenant_id, agent_id, badge_id, tier_id, award_window, "
        "  rule_version, xp, value, threshold, window_from, window_until, event_count, "
        "  trigger_event_ids, award_event_id, name, description, earned_at, time_window, "
        "  awarded_at) "
        "SELECT t, a, b, tier, w, v, xp, val, th, wf, wu, n, ARRAY[f, l], id, nm, ds, e, tw, $20 "
        "FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::date[], $6::int[], "
        "  $7::bigint[], $8::float8[], $9::float8[], $10::timestamptz[], $11::timestamptz[], "
        "  $12::bigint[], $13::uuid[], $14::uuid[], $15::uuid[], $16::text[], $17::text[], "
        "  $18::timestamptz[], $19::text[]) "
        "  AS x(t, a, b, tier, w, v, xp, val, th, wf, wu, n, f, l, id, nm, ds, e, tw) "
        "ON CONFLICT DO NOTHING RETURNING tenant_id, agent_id, badge_id, tier_id, award_window",
        *db.columns(rows, 19),
        now,
    )
    new = [by_key[(r[0], r[1], r[2], r[3], r[4])] for r in inserted]
    xp: dict[tuple[str, str], int] = {}
    for aw in new:
        xp[aw.key[:2]] = xp.get(aw.key[:2], 0) + aw.tier.xp
    reached = await _add_xp(conn, xp, levels) if xp else []
    return Made(new, reached)


async def _add_xp(
    conn: asyncpg.Connection, xp: Mapping[tuple[str, str], int], levels: Mapping[str, Levels]
) -> list[tuple[str, str, int, int, int]]:
    rows = await conn.fetch(
        "INSERT INTO agent_levels AS s (tenant_id, agent_id, xp, level) "
        "SELECT t, a, x, 1 FROM unnest($1::text[], $2::text[], $3::bigint[]) AS u(t, a, x) "
        "ON CONFLICT (tenant_id, agent_id) DO UPDATE SET xp = s.xp + EXCLUDED.xp "
        "RETURNING tenant_id, agent_id, xp, level",
        *db.columns([(*k, v) for k, v in xp.items()], 3),
    )
    up = []
    for t, a, total, level in rows:
        table = levels.get(t)
        if table is not None and (new := table.level_of(total)) > level:
            up.append((t, a, new, total, table.version))
    if up:
        await conn.execute(
            "UPDATE agent_levels s SET level = x.l FROM unnest($1::text[], $2::text[], $3::int[]) "
            "AS x(t, a, l) WHERE s.tenant_id = x.t AND s.agent_id = x.a",
            *db.columns([u[:3] for u in up], 3),
        )
    return up


async def claim_early(conn: asyncpg.Connection, claims: Sequence[Claim]) -> set[Claim]:
    """Makes the claims not made before; returns those made now (which then count)."""
    if not claims:
        return set()
    rows = await conn.fetch(
        "INSERT INTO early_events (tenant_id, badge_id, version, event_id) "
        "SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::uuid[]) "
        "ON CONFLICT DO NOTHING RETURNING tenant_id, badge_id, version, event_id::text",
        *db.columns(claims, 4),
    )
    return {(r[0], r[1], r[2], r[3]) for r in rows}
