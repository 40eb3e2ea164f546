"""Requirements, caps and badges decided again: the reads they need, and the loop that
applies them to the awards a batch (or a closing window) found."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

import asyncpg

from accolade.achievements import _store
from accolade.achievements._store import AGG, agg_of
from accolade.rules import calendar, evaluate, gates
from accolade.rules.aggregates import Agg
from accolade.rules.definitions import Levels
from accolade.rules.evaluate import Award, Program, WindowKey
from accolade.rules.gates import cap_period
from accolade.runtime import db


async def decide(
    conn: asyncpg.Connection,
    found: list[Award],
    programs: Mapping[str, evaluate.Program],
    levels: Mapping[str, Levels],
    now: datetime,
) -> tuple[_store.Made, list[_store.AwardKey]]:
    """Stores what requirements and caps admit of `found`, then decides again the badges
    that the new awards unlock, until nothing more is earned.

    Returns:
        What was made, and the keys of every award now held (made now or before).
    """
    made = _store.Made([], [])
    stored: list[_store.AwardKey] = []
    while found:
        if required := gates.requirements(found):
            have = await holdings(conn, required)
            have |= {(t, a, b, "") for t, a, b, _ in have}
            found = gates.gate(found, have.__contains__)
        found = gates.capped(found, await cap_taken(conn, found, programs), programs)
        step = await _store.store_awards(conn, found, levels, now)
        stored.extend(map(_store.award_key, found))
        made.awards.extend(step.awards)
        made.levels.extend(step.levels)
        again = gates.rechecks(step.awards, programs)
        if not again:
            break
        h = await windows_of(conn, again)
        opened = [k for k in h.windows if k not in h.closed]
        found = evaluate.awards(opened, h.windows, h.buckets, h.zones, programs)
        found += evaluate.awards(h.closed, h.windows, h.buckets, h.zones, programs, closing=True)
    return made, stored


async def holdings(
    conn: asyncpg.Connection, keys: Iterable[tuple[str, str, str]]
) -> set[tuple[str, str, str, str]]:
    """The tiers held, in any window, of the (tenant, agent, badge) in `keys`."""
    rows = await conn.fetch(
        "SELECT DISTINCT g.tenant_id, g.agent_id, g.badge_id, g.tier_id FROM agent_badges g "
        "JOIN unnest($1::text[], $2::text[], $3::text[]) AS x(t, a, b) "
        "ON g.tenant_id = x.t AND g.agent_id = x.a AND g.badge_id = x.b",
        *db.columns(list(keys), 3),
    )
    return {(r[0], r[1], r[2], r[3]) for r in rows}


async def cap_taken(
    conn: asyncpg.Connection, found: Iterable[Award], programs: Mapping[str, Program]
) -> dict[tuple[str, str, str, date], set[date]]:
    """The windows already awarded in the cap period of each capped award of `found`."""
    periods: dict[tuple[str, str, str, date], date] = {}
    for aw in found:
        if aw.rule.cap is not None:
            t, a, b, start = aw.key
            since = cap_period(aw.rule, start, programs[t].cal)
            periods[(t, a, b, since)] = calendar.window_end(since, aw.rule.cap[1]) or date.max
    if not periods:
        return {}
    rows = await conn.fetch(
        "SELECT DISTINCT x.t, x.a, x.b, x.since, g.award_window FROM agent_badges g "
        "JOIN unnest($1::text[], $2::text[], $3::text[], $4::date[], $5::date[]) "
        "  AS x(t, a, b, since, until) "
        "ON g.tenant_id = x.t AND g.agent_id = x.a AND g.badge_id = x.b "
        "  AND g.award_window >= x.since AND g.award_window < x.until",
        *db.columns([(*k, until) for k, until in periods.items()], 5),
    )
    out: dict[tuple[str, str, str, date], set[date]] = {k: set() for k in periods}
    for r in rows:
        out[(r[0], r[1], r[2], r[3])].add(r[4])
    return out


@dataclasses.dataclass(slots=True)
class Stored:
    """Every window (and bucket) some badges hold for some agents."""

    windows: dict[WindowKey, Agg]
    buckets: dict[WindowKey, dict[date, Agg]]
    closed: set[WindowKey]
    zones: dict[tuple[str, str], ZoneInfo]


async def windows_of(conn: asyncpg.Connection, keys: Iterable[tuple[str, str, str]]) -> Stored:
    """The whole state of the (tenant, agent, badge) in `keys`: to decide them again."""
    rows = await conn.fetch(
        f"SELECT s.tenant_id, s.agent_id, s.badge_id, s.window_start, {AGG}, "  # noqa: S608
        "  s.time_zone, s.closed FROM badge_windows s "
        "JOIN unnest($1::text[], $2::text[], $3::text[]) AS x(t, a, b) "
        "ON s.tenant_id = x.t AND s.agent_id = x.a AND s.badge_id = x.b",
        *db.columns(list(keys), 3),
    )
    held = Stored({}, {}, set(), {})
    for r in rows:
        key = (r[0], r[1], r[2], r[3])
        held.windows[key] = agg_of(r, 4)
        held.zones[key[:2]] = calendar.zone(r[12])
        if r[13]:
            held.closed.add(key)
    held.buckets = await buckets_of(conn, list(held.windows))
    return held


async def buckets_of(
    conn: asyncpg.Connection, keys: Sequence[WindowKey]
) -> dict[WindowKey, dict[date, Agg]]:
    """Every bucket of the windows in `keys`."""
    if not keys:
        return {}
    rows = await conn.fetch(
        f"SELECT s.tenant_id, s.agent_id, s.badge_id, s.window_start, s.bucket, {AGG} "  # noqa: S608
        "FROM badge_buckets s JOIN unnest($1::text[], $2::text[], $3::text[], $4::date[]) "
        "  AS x(t, a, b, w) ON s.tenant_id = x.t AND s.agent_id = x.a AND s.badge_id = x.b "
        "  AND s.window_start = x.w",
        *db.columns(list(keys), 4),
    )
    out: dict[WindowKey, dict[date, Agg]] = {}
    for r in rows:
        out.setdefault((r[0], r[1], r[2], r[3]), {})[r[4]] = agg_of(r, 5)
    return out
