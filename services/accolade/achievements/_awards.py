"""Awarding badges from a batch of activity and feedback, set-based."""

from __future__ import annotations

import uuid
from datetime import datetime

from accolade.achievements._rules import BUILT_IN, BadgeRule
from accolade.runtime import db
from accolade.runtime.conditions import occurred_at
from accolade.runtime.inbox import Batch, BatchHandler
from accolade.runtime.service import Context
from accolade.runtime.validation import utcnow
from accolade.v1 import envelope_pb2, events_pb2

# Award event ids derive from (tenant, agent, badge), so a replay emits the same ids.
_AWARD_NAMESPACE = uuid.UUID("7f1c1e0e-5a43-4d0c-9c55-3d0f1f6b0a01")


def award_event_id(tenant_id: str, agent_id: str, badge_id: str) -> str:
    """The id of the event announcing that an agent earned a once-per-agent badge."""
    return str(uuid.uuid5(_AWARD_NAMESPACE, f"{tenant_id}/{agent_id}/{badge_id}"))


def candidates(
    events: list[envelope_pb2.Envelope],
) -> dict[tuple[str, str, str], envelope_pb2.Envelope]:
    """For each (tenant, agent, badge) some event of `events` earns, the first such event."""
    found: dict[tuple[str, str, str], envelope_pb2.Envelope] = {}
    for e in events:
        for rule in BUILT_IN:
            key = (e.tenant_id, e.agent_id, rule.badge_id)
            if key not in found and rule.matches(e):
                found[key] = e
    return found


def award_envelope(
    rule: BadgeRule, trigger: envelope_pb2.Envelope, now: datetime
) -> envelope_pb2.Envelope:
    """The badge_awarded event announcing that `trigger` earned `rule`'s badge."""
    award = envelope_pb2.Envelope(
        event_id=award_event_id(trigger.tenant_id, trigger.agent_id, rule.badge_id),
        tenant_id=trigger.tenant_id,
        agent_id=trigger.agent_id,
        badge_awarded=events_pb2.BadgeAwarded(
            badge_id=rule.badge_id,
            name=rule.name,
            explanation=events_pb2.Explanation(
                rule_id=rule.badge_id,
                rule_version=rule.version,
                window="all_time",
                value=1,
                threshold=1,
                trigger_event_ids=[trigger.event_id],
            ),
        ),
    )
    award.occurred_at.CopyFrom(trigger.occurred_at)
    award.recorded_at.FromDatetime(now)
    return award


def badges_handler(ctx: Context) -> BatchHandler:
    """Awards the built-in once-per-agent badges: one insert for the batch, one event per award."""
    topic = ctx.topic("awards")
    awarded = ctx.metrics.counter("badges_awarded", "Badges awarded, by badge.", ("badge",))
    rules = {r.badge_id: r for r in BUILT_IN}

    async def apply(batch: Batch) -> None:
        found = candidates(batch.events)
        if not found:
            return
        now = utcnow()
        # Agents who hold the badge already match no row: only new awards come back.
        rows = await batch.conn.fetch(
            "INSERT INTO agent_badges (tenant_id, agent_id, badge_id, rule_version, awarded_at, "
            "  earned_at, time_window, value, threshold, trigger_event_ids, award_event_id) "
            "SELECT t, a, b, v, $7, e, 'all_time', 1, 1, ARRAY[g], w "
            "FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::timestamptz[], "
            "  $6::uuid[], $8::uuid[]) AS x(t, a, b, v, e, g, w) "
            "ON CONFLICT DO NOTHING RETURNING tenant_id, agent_id, badge_id",
            *db.columns(
                [
                    (t, a, b, rules[b].version, occurred_at(e), e.event_id)
                    for (t, a, b), e in found.items()
                ],
                6,
            ),
            now,
            [award_event_id(t, a, b) for t, a, b in found],
        )
        awards = [award_envelope(rules[r[2]], found[(r[0], r[1], r[2])], now) for r in rows]
        batch.emit(topic, awards)
        for a in awards:
            batch.count(awarded.labels(a.badge_awarded.badge_id))

    return apply
