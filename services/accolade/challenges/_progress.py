"""Counting a batch of activity toward challenges, set-based, announcing every step."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date, datetime

from accolade.challenges._rules import CHALLENGES, DailyChallenge
from accolade.runtime import db
from accolade.runtime.conditions import day_of
from accolade.runtime.inbox import Batch, BatchHandler
from accolade.runtime.service import Context
from accolade.runtime.validation import utcnow
from accolade.v1 import envelope_pb2, events_pb2

# Challenge event ids derive from what they announce, so a replay emits the same ids.
_NAMESPACE = uuid.UUID("0b6f7a52-8d7e-4f57-a3c5-6a2f3c1d9e02")

# (tenant, challenge, period, agent): one row of challenge_progress.
Key = tuple[str, str, date, str]


def counted(events: Iterable[envelope_pb2.Envelope]) -> dict[Key, list[envelope_pb2.Envelope]]:
    """The events that count toward each challenge period of each agent, in order."""
    groups: dict[Key, list[envelope_pb2.Envelope]] = {}
    for e in events:
        for c in CHALLENGES:
            if c.counts.matches(e):
                groups.setdefault((e.tenant_id, c.challenge_id, day_of(e), e.agent_id), []).append(
                    e
                )
    return groups


def announcements(
    c: DailyChallenge,
    key: Key,
    events: list[envelope_pb2.Envelope],
    before: int,
    target: int,
    trigger_ids: list[str],
    now: datetime,
) -> list[envelope_pb2.Envelope]:
    """What counting `events` on top of `before` announces.

    Each step up to `target`, and the completion when the target is reached.

    Each step n is announced once, by the event that made it, with an id derived from
    (tenant, agent, challenge, period, n): the same events and ids as counting them one
    at a time.
    """
    tenant, challenge_id, day, agent = key
    period = day.isoformat()
    base = f"{tenant}/{agent}/{challenge_id}/{period}"
    out = []
    for n, e in enumerate(events, start=before + 1):
        if n > target:
            break
        step = _envelope(e, str(uuid.uuid5(_NAMESPACE, f"{base}/progress/{n}")), now)
        step.challenge_progressed.CopyFrom(
            events_pb2.ChallengeProgressed(
                challenge_id=challenge_id, period=period, progress=n, target=target
            )
        )
        out.append(step)
        if n == target:
            done = _envelope(e, str(uuid.uuid5(_NAMESPACE, f"{base}/completed")), now)
            done.challenge_completed.CopyFrom(
                events_pb2.ChallengeCompleted(
                    challenge_id=challenge_id,
                    name=c.name,
                    period=period,
                    target=target,
                    explanation=events_pb2.Explanation(
                        rule_id=challenge_id,
                        rule_version=c.version,
                        window=f"day:{period}",
                        value=target,
                        threshold=target,
                        trigger_event_ids=trigger_ids,
                    ),
                )
            )
            out.append(done)
    return out


def _ids(events: list[envelope_pb2.Envelope], target: int) -> str:
    """The ids of the first `target` events, as the statement splits them."""
    return ",".join(e.event_id for e in events[:target])


def _envelope(
    trigger: envelope_pb2.Envelope, event_id: str, now: datetime
) -> envelope_pb2.Envelope:
    out = envelope_pb2.Envelope(
        event_id=event_id, tenant_id=trigger.tenant_id, agent_id=trigger.agent_id
    )
    out.occurred_at.CopyFrom(trigger.occurred_at)
    out.recorded_at.FromDatetime(now)
    return out


def progress_handler(ctx: Context) -> BatchHandler:
    """Counts a batch toward the daily challenges with one upsert for every agent and period."""
    topic = ctx.topic("challenges")
    completions = ctx.metrics.counter(
        "challenges_completed", "Challenge completions, by challenge.", ("challenge",)
    )
    by_id = {c.challenge_id: c for c in CHALLENGES}

    async def apply(batch: Batch) -> None:
        groups = counted(batch.events)
        if not groups:
            return
        now = utcnow()
        # Only the first `target` events are kept as the explanation: the ones that
        # completed the challenge. A group's ids beyond the target are never stored.
        rows = await batch.conn.fetch(
            "INSERT INTO challenge_progress AS p (tenant_id, challenge_id, period, agent_id, "
            "  progress, target, event_ids, completed_at, updated_at) "
            "SELECT t, c, d, a, n, g, (string_to_array(ids, ',')::uuid[])[1:g], "
            "  CASE WHEN n >= g THEN $8::timestamptz END, $8 "
            "FROM unnest($1::text[], $2::text[], $3::date[], $4::text[], $5::bigint[], "
            "  $6::bigint[], $7::text[]) AS x(t, c, d, a, n, g, ids) "
            "ON CONFLICT (tenant_id, challenge_id, period, agent_id) DO UPDATE SET "
            "  progress = p.progress + EXCLUDED.progress, "
            "  event_ids = CASE WHEN p.progress < p.target "
            "    THEN p.event_ids || EXCLUDED.event_ids[1:(p.target - p.progress)] ELSE p.event_ids END, "
            "  completed_at = CASE WHEN p.completed_at IS NULL "
            "    AND p.progress + EXCLUDED.progress >= p.target THEN $8 ELSE p.completed_at END, "
            "  updated_at = $8 "
            "RETURNING tenant_id, challenge_id, period, agent_id, progress, target, event_ids::text[]",
            *db.columns(
                [
                    (*key, len(events), by_id[key[1]].target, _ids(events, by_id[key[1]].target))
                    for key, events in groups.items()
                ],
                7,
            ),
            now,
        )
        out: list[envelope_pb2.Envelope] = []
        for r in rows:
            key: Key = (r[0], r[1], r[2], r[3])
            events = groups[key]
            c = by_id[key[1]]
            # The row's own target: the one it was started with.
            progress, target = r[4], r[5]
            before = progress - len(events)
            out.extend(announcements(c, key, events, before, target, r[6], now))
            if before < target <= progress:
                batch.count(completions.labels(c.challenge_id))
        batch.emit(topic, out)

    return apply
