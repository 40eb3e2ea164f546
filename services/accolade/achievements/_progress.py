"""Where an agent stands on every badge in force, and what is left for the next tier."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import asyncpg

from accolade.achievements import _store
from accolade.achievements._programs import Loaded
from accolade.rules import calendar
from accolade.rules.aggregates import Agg
from accolade.rules.definitions import Rule
from accolade.rules.evaluate import award_window, standing
from accolade.runtime import roster
from accolade.v1 import achievements_service_pb2 as pb


def _summary(rule: Rule, value: float, remaining: float, tier: str, threshold: float) -> str:
    """What is left for the next tier, in words."""
    if rule.aggregate in ("avg", "min", "max"):
        word = {"avg": "average", "min": "lowest", "max": "highest"}[rule.aggregate]
        return f"{word} {rule.field} is {value:.4g}; {threshold:g} earns {rule.name} {tier}"
    unit = {
        "count": "",
        "sum": f" {rule.field}",
        "distinct_days": " days",
        "streak": " weeks in a row" if rule.unit == "week" else " days in a row",
    }[rule.aggregate]
    return f"{remaining:.4g} more{unit} for {rule.name} {tier}"


def _named(loaded: Loaded, badge: str, tier: str) -> str:
    """A required badge (and tier) as agents read it."""
    versions = loaded.program.by_badge.get(badge)
    name = versions[-1].name if versions else badge
    return f"{name} {tier}" if tier else name


async def progress(
    conn: asyncpg.Connection, loaded: Loaded | None, tenant: str, agent: str, now: datetime
) -> pb.GetAgentProgressResponse:
    """The agent's standing on each badge in force at `now`, and its XP and level."""
    out = pb.GetAgentProgressResponse()
    level = await conn.fetchrow(
        "SELECT xp, level FROM agent_levels WHERE tenant_id = $1 AND agent_id = $2", tenant, agent
    )
    if level is not None:
        out.xp = level["xp"]
    if loaded is None:
        return out
    if loaded.levels is not None:
        out.level = loaded.levels.level_of(out.xp)
        out.level_name = loaded.levels.names[out.level - 1]
        if out.level < len(loaded.levels.xp):
            out.next_level_xp = loaded.levels.xp[out.level]
    entry = (await roster.entries(conn, [(tenant, agent)])).get((tenant, agent))
    cal = loaded.program.cal
    tz = calendar.zone(entry.time_zone if entry and entry.time_zone else cal.default_zone)
    today = calendar.local_day(now, tz)
    rules = [
        r
        for badge in sorted(loaded.program.by_badge)
        if (r := loaded.program.version_at(badge, now)) is not None and not r.archived
    ]
    starts = [calendar.window_start(today, r.window, cal.week_start) for r in rules]
    keys = [(r.badge_id, w) for r, w in zip(rules, starts, strict=True)]

    async def current(columns: str, table: str) -> list[asyncpg.Record]:
        """The agent's rows of `table` in the current window of each badge."""
        rows: list[asyncpg.Record] = await conn.fetch(
            f"SELECT {columns}, {_store.AGG} FROM {table} "  # noqa: S608 - constants only
            "WHERE tenant_id = $1 AND agent_id = $2 AND (badge_id, window_start) IN "
            "(SELECT * FROM unnest($3::text[], $4::date[]))",
            tenant,
            agent,
            [k[0] for k in keys],
            [k[1] for k in keys],
        )
        return rows

    windows = {
        (r[0], r[1]): _store.agg_of(r, 2)
        for r in await current("badge_id, window_start", "badge_windows")
    }
    buckets: dict[tuple[str, date], dict[date, Agg]] = {}
    for r in await current("badge_id, window_start, bucket", "badge_buckets"):
        buckets.setdefault((r[0], r[1]), {})[r[2]] = _store.agg_of(r, 3)
    held: dict[str, set[str]] = {}
    holds: set[tuple[str, str]] = set()  # (badge, tier) in any window, and (badge, "")
    for r in await conn.fetch(
        "SELECT badge_id, tier_id, award_window FROM agent_badges "
        "WHERE tenant_id = $1 AND agent_id = $2",
        tenant,
        agent,
    ):
        held.setdefault(f"{r[0]}/{r[2]}", set()).add(r[1])
        holds |= {(r[0], r[1]), (r[0], "")}
    for rule, start in zip(rules, starts, strict=True):
        entry_pb = pb.BadgeProgress(badge_id=rule.badge_id, name=rule.name)
        agg = windows.get((rule.badge_id, start))
        days = buckets.get((rule.badge_id, start), {})
        if rule.window in calendar.ROLLING_DAYS:
            # The current rolling window: the days up to today.
            length = calendar.ROLLING_DAYS[rule.window]
            since = today - timedelta(days=length - 1)
            days = {d: a for d, a in days.items() if since <= d <= today}
            agg = None if not days else next(iter(days.values()))
        if agg is not None:
            s = standing(rule, start, agg, days, tz, cal)
            entry_pb.value = s.value
        bounds = calendar.window_bounds(start, rule.window, tz)
        if bounds[0] is not None and bounds[1] is not None:
            entry_pb.window_start.FromDatetime(bounds[0])
            entry_pb.window_end.FromDatetime(bounds[1])
        mine = held.get(f"{rule.badge_id}/{award_window(rule, start)}", set())
        entry_pb.held_tier_ids.extend(t.id for t in rule.tiers if t.id in mine)
        nxt = next((t for t in rule.tiers if t.id not in mine), None)
        if nxt is not None:
            entry_pb.next_tier_id = nxt.id
            entry_pb.next_threshold = nxt.threshold
            entry_pb.remaining = max(0.0, nxt.threshold - entry_pb.value)
            entry_pb.summary = _summary(
                rule, entry_pb.value, entry_pb.remaining, nxt.id, nxt.threshold
            )
        missing = [(b, t) for b, t in rule.requires if (b, t) not in holds]
        if missing:
            entry_pb.missing.extend(pb.BadgeRequirement(badge=b, tier=t) for b, t in missing)
            names = [_named(loaded, b, t) for b, t in missing]
            needs = "needs " + " and ".join(names) + " first"
            # A threshold already met waits only for what it needs.
            met = nxt is not None and entry_pb.remaining == 0
            entry_pb.summary = needs if met or nxt is None else f"{entry_pb.summary}; {needs}"
        out.badges.append(entry_pb)
    return out
