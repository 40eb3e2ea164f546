"""Awarding badges from a batch of activity and feedback, by each tenant's program."""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import functools
import logging
from collections.abc import Container, Iterable, Mapping, Sequence
from datetime import datetime

import asyncpg

from accolade.achievements import _gates, _store
from accolade.achievements._programs import Loaded, Programs
from accolade.rules import calendar, evaluate
from accolade.rules.aggregates import Agg
from accolade.rules.definitions import Levels
from accolade.rules.evaluate import Award
from accolade.rules.tenants import calendars
from accolade.runtime import db, outbox, roster
from accolade.runtime.inbox import Batch, BatchHandler
from accolade.runtime.service import Context
from accolade.runtime.validation import utcnow
from accolade.v1 import envelope_pb2, events_pb2

log = logging.getLogger(__name__)
# How often windows that are decided at close (avg, min) are looked for.
CLOSE_INTERVAL_SECONDS = 10.0
_CLOSE_BATCH = 1000
# Award keys remembered as held, at about 200 bytes each.
HELD_CACHE = 200_000


class _Held:
    """A bounded set of award keys, the least recently seen forgotten first."""

    def __init__(self, size: int) -> None:
        self._keys: collections.OrderedDict[_store.AwardKey, None] = collections.OrderedDict()
        self._size = size

    def __contains__(self, key: object) -> bool:
        if key in self._keys:
            self._keys.move_to_end(key)  # type: ignore[arg-type]
            return True
        return False

    def update(self, keys: Iterable[_store.AwardKey]) -> None:
        for k in keys:
            self._keys[k] = None
            self._keys.move_to_end(k)
        while len(self._keys) > self._size:
            self._keys.popitem(last=False)


def award_envelope(aw: Award, now_stamp: envelope_pb2.Envelope) -> envelope_pb2.Envelope:
    """The badge_awarded event announcing `aw`."""
    t, a, b, _ = aw.key
    s = aw.standing
    explanation = events_pb2.Explanation(
        rule_id=b,
        rule_version=aw.rule.version,
        window=aw.rule.window,
        value=s.value,
        threshold=aw.tier.threshold,
        trigger_event_ids=[s.agg.first[1], s.agg.last[1]],
        tier_id=aw.tier.id,
        event_count=s.agg.n,
    )
    if s.start is not None and s.end is not None:
        explanation.window_start.FromDatetime(s.start)
        explanation.window_end.FromDatetime(s.end)
    e = envelope_pb2.Envelope(
        event_id=_store.award_event_id(t, a, b, aw.tier.id, aw.award_window),
        tenant_id=t,
        agent_id=a,
        badge_awarded=events_pb2.BadgeAwarded(
            badge_id=b,
            name=aw.rule.name,
            explanation=explanation,
            tier_id=aw.tier.id,
            xp=aw.tier.xp,
        ),
    )
    e.occurred_at.FromDatetime(s.agg.last[0])
    e.recorded_at.CopyFrom(now_stamp.recorded_at)
    return e


def level_envelope(
    tenant: str,
    agent: str,
    level: int,
    xp: int,
    version: int,
    names: Sequence[str],
    stamp: envelope_pb2.Envelope,
) -> envelope_pb2.Envelope:
    """The level_reached event announcing a level."""
    e = envelope_pb2.Envelope(
        event_id=_store.level_event_id(tenant, agent, level),
        tenant_id=tenant,
        agent_id=agent,
        level_reached=events_pb2.LevelReached(
            level=level, name=names[level - 1], xp=xp, table_version=version
        ),
    )
    e.occurred_at.CopyFrom(stamp.recorded_at)
    e.recorded_at.CopyFrom(stamp.recorded_at)
    return e


def announcements(made: _store.Made, loaded: Mapping[str, Loaded]) -> list[envelope_pb2.Envelope]:
    """The events announcing what a batch made: its awards, then the levels reached."""
    stamp = envelope_pb2.Envelope()
    stamp.recorded_at.FromDatetime(utcnow())
    out = [award_envelope(aw, stamp) for aw in made.awards]
    for t, a, level, xp, version in made.levels:
        levels = loaded[t].levels
        if levels is not None:
            out.append(level_envelope(t, a, level, xp, version, levels.names, stamp))
    return out


@dataclasses.dataclass(frozen=True, slots=True)
class Evaluated:
    """What evaluating a batch did: awards and levels made, award keys now held, how
    many events came too late, and the programs it used."""

    made: _store.Made
    stored: list[_store.AwardKey]
    late: int
    loaded: Mapping[str, Loaded]


async def evaluate_events(
    conn: asyncpg.Connection,
    programs: Programs,
    events: Sequence[envelope_pb2.Envelope],
    now: datetime,
    held: _Held | None = None,
) -> Evaluated | None:
    """Evaluates each tenant's badges on `events`, set-based, on `conn` (in a transaction).

    Args:
        held: award keys known to be held, which need not be asked for again.

    Returns:
        None when no tenant of `events` has a program.
    """
    loaded = await programs.of(conn, (e.tenant_id for e in events))
    if not loaded:
        return None
    events = [e for e in events if e.tenant_id in loaded]
    by_tenant = {t: p.program for t, p in loaded.items()}
    claimed = await _store.claim_early(conn, evaluate.early_claims(events, by_tenant, now))
    d, found = await count(conn, events, by_tenant, now, claimed)
    await _store.record_late(conn, d)
    if held is not None:
        found = [aw for aw in found if _store.award_key(aw) not in held]
    made, stored = await _gates.decide(conn, found, by_tenant, _levels(loaded), now)
    return Evaluated(made, stored, len(d.too_late), loaded)


async def count(
    conn: asyncpg.Connection,
    events: Sequence[envelope_pb2.Envelope],
    programs: Mapping[str, evaluate.Program],
    now: datetime,
    claimed: Container[evaluate.Claim],
) -> tuple[evaluate.Deltas, list[Award]]:
    """Adds what `events` contribute to the stored windows and buckets; returns the
    deltas and the tiers the merged windows reach (see evaluate.contributions)."""
    agents = await roster.entries(conn, {(e.tenant_id, e.agent_id) for e in events})
    d = evaluate.contributions(events, programs, agents, now, claimed)
    windows = await _store.merge_windows(conn, d, programs)
    buckets = await _store.merge_buckets(conn, d, programs)
    return d, evaluate.awards(d.windows, windows, buckets, d.zones, programs)


def badges_handler(ctx: Context) -> BatchHandler:
    """Evaluates each tenant's badges on a batch: a handful of statements per batch."""
    topic = ctx.topic("awards")
    programs = Programs(calendars(ctx))
    # Tiers known to be held: a count past its threshold reaches it again with every
    # event, and asking the store each time would be most of the work of a batch.
    held = _Held(HELD_CACHE)
    awarded = ctx.metrics.counter(
        "badges_awarded", "Badge tiers awarded, by the badge's window.", ("window",)
    )
    levels_reached = ctx.metrics.counter("levels_reached", "Levels agents reached.")
    late = ctx.metrics.counter(
        "late_events", "Events that arrived after their tenant's lateness and did not count."
    )

    async def apply(batch: Batch) -> None:
        found = await evaluate_events(batch.conn, programs, batch.events, utcnow(), held)
        if found is None:
            return
        # Awards are never taken back, so whatever was stored is held once committed.
        batch.after_commit(functools.partial(held.update, found.stored))
        batch.emit(topic, announcements(found.made, found.loaded))
        for aw in found.made.awards:
            batch.count(awarded.labels(aw.rule.window))
        batch.count(levels_reached, len(found.made.levels))
        batch.count(late, found.late)

    async def close_windows() -> None:
        """Decides, every few seconds, the avg and min windows whose time has come."""
        while True:
            async with ctx.pool.acquire() as conn:
                while await close_some(conn, programs, topic):
                    pass
            await asyncio.sleep(CLOSE_INTERVAL_SECONDS)

    ctx.spawn(close_windows, "close-windows")
    return apply


def _bucketed(
    windows: Mapping[evaluate.WindowKey, Agg], programs: Mapping[str, evaluate.Program]
) -> list[evaluate.WindowKey]:
    """The windows whose rule keeps buckets (a capped streak or distinct-days badge)."""
    out = []
    for key, agg in windows.items():
        program = programs.get(key[0])
        rule = program.version_at(key[2], agg.last[0]) if program else None
        if rule is not None and rule.bucketed:
            out.append(key)
    return out


def _levels(loaded: Mapping[str, Loaded]) -> dict[str, Levels]:
    return {t: p.levels for t, p in loaded.items() if p.levels is not None}


async def close_some(conn: asyncpg.Connection, programs: Programs, topic: str) -> bool:
    """Decides one batch of due windows; returns whether there may be more."""
    async with conn.transaction():
        rows = await conn.fetch(
            "SELECT tenant_id, agent_id, badge_id, window_start, n, total, lo, hi, first_at, "
            "  first_id::text, last_at, last_id::text, time_zone FROM badge_windows "
            "WHERE NOT closed AND closes_at <= now() ORDER BY closes_at LIMIT $1 "
            "FOR UPDATE SKIP LOCKED",
            _CLOSE_BATCH,
        )
        if not rows:
            return False
        loaded = await programs.of(conn, {r[0] for r in rows})
        by_tenant = {t: p.program for t, p in loaded.items()}
        windows = {(r[0], r[1], r[2], r[3]): _store.agg_of(r, 4) for r in rows}
        zones = {(r[0], r[1]): calendar.zone(r[12]) for r in rows}
        # Closed first: a badge these awards unlock is decided again as closed.
        await conn.execute(
            "UPDATE badge_windows s SET closed = true FROM unnest($1::text[], $2::text[], "
            "$3::text[], $4::date[]) AS x(t, a, b, w) WHERE s.tenant_id = x.t AND "
            "s.agent_id = x.a AND s.badge_id = x.b AND s.window_start = x.w",
            *db.columns(list(windows), 4),
        )
        buckets = await _gates.buckets_of(conn, _bucketed(windows, by_tenant))
        found = evaluate.awards(windows, windows, buckets, zones, by_tenant, closing=True)
        made, _ = await _gates.decide(conn, found, by_tenant, _levels(loaded), utcnow())
        await outbox.add(conn, topic, announcements(made, loaded))
        if made.awards:
            log.info("closed windows", extra={"windows": len(rows), "awards": len(made.awards)})
    return len(rows) == _CLOSE_BATCH


def roster_handler(ctx: Context) -> BatchHandler:
    """Keeps achievements' copy of the roster: each agent's latest entry."""
    return roster.handler()
