"""The starter program's badges on the payloads they count, evaluated by the engine."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from accolade import programs
from accolade.rules.calendar import Calendar
from accolade.rules.definitions import compile_badge
from accolade.rules.evaluate import Program
from accolade.rules.memory import MemoryState
from accolade.v1 import envelope_pb2, events_pb2

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


def starter() -> dict[str, Program]:
    request = programs.starter("t")
    rules = [compile_badge(b, 1, NOW - timedelta(days=30)) for b in request.badges]
    return {"t": Program.of(rules, Calendar())}


def event(at: datetime, **payload: object) -> envelope_pb2.Envelope:
    e = envelope_pb2.Envelope(event_id=str(uuid.uuid4()), tenant_id="t", agent_id="a")
    ((kind, value),) = payload.items()
    getattr(e, kind).CopyFrom(value)
    e.occurred_at.FromDatetime(at)
    return e


def tiers(state: MemoryState, badge: str) -> list[str]:
    return sorted(k[3] for k in state.awards if k[2] == badge)


def test_every_starter_badge_counts_the_payload_it_names() -> None:
    progs, state = starter(), MemoryState()
    hour = timedelta(hours=1)
    events = [
        *(
            event(
                NOW - i * hour,
                qa_evaluated=events_pb2.QaEvaluated(evaluation_id=f"q{i}", form_id="f", score=s),
            )
            for i, s in enumerate([95, 90, 89.9, 99, 100, 91])
        ),
        *(
            event(
                NOW - i * hour,
                certification_passed=events_pb2.CertificationPassed(certification_id="c", level=lv),
            )
            for i, lv in enumerate([1, 2])
        ),
        *(
            event(NOW - i * hour, metric_reported=events_pb2.MetricReported(name=n, value=v))
            for i, (n, v) in enumerate(
                [("night_shift_hours", 30), ("other_metric", 50), ("night_shift_hours", 12)]
            )
        ),
        *(
            event(NOW - i * hour, survey_submitted=events_pb2.SurveySubmitted(csat=5, nps=n))
            for i, n in enumerate([9, 10, 8, 10, 9, 9, 10, 9, 10])
        ),
        event(NOW, survey_submitted=events_pb2.SurveySubmitted(csat=5)),  # NPS not asked
        *(
            event(
                NOW - i * hour,
                training_completed=events_pb2.TrainingCompleted(course_id=f"c{i}", score=s),
            )
            for i, s in enumerate([80, 79, 95, 100])
        ),
    ]
    # Adherence arrives day by day, as each day is reported.
    for d in range(4, -1, -1):
        at = NOW - timedelta(days=d)
        report = events_pb2.AdherenceReported(day=f"{at.date()}", adherence_percent=97)
        state.apply([event(at, adherence_reported=report)], progs, {}, at)
    state.apply(events, progs, {}, NOW)
    assert state.too_late == []
    assert tiers(state, "qa-excellence") == ["silver"]  # five of six scored 90 or more
    assert tiers(state, "certification-ladder") == ["bronze", "silver"]  # the highest level is 2
    assert tiers(state, "night-shift-hero") == ["silver"]  # 30 + 12 night hours, not the 50
    assert tiers(state, "nps-promoter") == []  # eight promoters of ten needed
    assert tiers(state, "adherence-streak") == ["bronze"]  # five days in a row
    assert tiers(state, "training-path") == ["bronze"]  # three courses at 80 or more
    state.apply(
        [event(NOW, survey_submitted=events_pb2.SurveySubmitted(csat=4, nps=10)) for _ in range(2)],
        progs,
        {},
        NOW,
    )
    assert tiers(state, "nps-promoter") == ["silver"]
