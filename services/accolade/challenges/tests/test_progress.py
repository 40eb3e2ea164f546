"""Announcing challenge progress from a batch says what counting one event at a time says."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from accolade.challenges._progress import announcements, counted
from accolade.challenges._rules import TEN_RESOLUTIONS
from accolade.testing import interaction

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
NAMESPACE = uuid.UUID("0b6f7a52-8d7e-4f57-a3c5-6a2f3c1d9e02")  # the ids' published namespace


def test_a_batch_announces_every_step_with_the_ids_one_event_at_a_time_would() -> None:
    at = NOW - timedelta(hours=1)
    events = [interaction("acme", "a1", occurred_at=at) for _ in range(13)]
    ((key, group),) = counted(events).items()
    day = at.date().isoformat()
    ids = [e.event_id for e in events[:10]]

    # Three batches of 4, 5 and 4 events, as the consumer may happen to read them.
    batched = [
        *announcements(TEN_RESOLUTIONS, key, group[:4], 0, 10, ids[:4], NOW),
        *announcements(TEN_RESOLUTIONS, key, group[4:9], 4, 10, ids[:9], NOW),
        *announcements(TEN_RESOLUTIONS, key, group[9:], 9, 10, ids, NOW),
    ]
    one_by_one = [
        a
        for n, e in enumerate(group)
        for a in announcements(TEN_RESOLUTIONS, key, [e], n, 10, ids[: min(n + 1, 10)], NOW)
    ]

    assert batched == one_by_one
    steps = [a for a in batched if a.WhichOneof("payload") == "challenge_progressed"]
    assert [a.challenge_progressed.progress for a in steps] == list(range(1, 11))
    assert [a.event_id for a in steps] == [
        str(uuid.uuid5(NAMESPACE, f"acme/a1/ten-resolutions-today/{day}/progress/{n}"))
        for n in range(1, 11)
    ]
    # Each step is announced by the event that made it, at that event's time.
    assert [a.occurred_at for a in steps] == [e.occurred_at for e in events[:10]]
    (done,) = [a for a in batched if a.WhichOneof("payload") == "challenge_completed"]
    assert done.event_id == str(
        uuid.uuid5(NAMESPACE, f"acme/a1/ten-resolutions-today/{day}/completed")
    )
    assert list(done.challenge_completed.explanation.trigger_event_ids) == ids
    assert batched.index(done) == batched.index(steps[-1]) + 1


def test_only_resolved_interactions_count_each_in_its_agents_day() -> None:
    today, yesterday = NOW - timedelta(hours=1), NOW - timedelta(days=1)
    events = [
        interaction("acme", "a1", occurred_at=today),
        interaction("acme", "a1", occurred_at=yesterday),
        interaction("acme", "a1", resolved=False, occurred_at=today),
        interaction("acme", "a2", occurred_at=today),
        interaction("globex", "a1", occurred_at=today),
    ]
    groups = counted(events)
    assert {k: [e.event_id for e in g] for k, g in groups.items()} == {
        ("acme", "ten-resolutions-today", today.date(), "a1"): [events[0].event_id],
        ("acme", "ten-resolutions-today", yesterday.date(), "a1"): [events[1].event_id],
        ("acme", "ten-resolutions-today", today.date(), "a2"): [events[3].event_id],
        ("globex", "ten-resolutions-today", today.date(), "a1"): [events[4].event_id],
    }
