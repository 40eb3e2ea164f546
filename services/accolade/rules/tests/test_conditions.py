"""Conditions: the plain-Python form of simple ones answers exactly as CEL does."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accolade.rules.conditions import Condition
from accolade.v1 import events_pb2

SIMPLE = [
    ("interaction_completed", "event.resolved_first_contact"),
    ("interaction_completed", "!event.transferred"),
    (
        "interaction_completed",
        "event.channel == Channel.CHANNEL_CHAT && event.resolved_first_contact",
    ),
    ("interaction_completed", "event.channel != Channel.CHANNEL_VOICE"),
    (
        "interaction_completed",
        'event.resolved_first_contact && event.handle_time < duration("300s")',
    ),
    ("interaction_completed", 'event.handle_time >= duration("120.5s")'),
    ("survey_submitted", "event.csat == 5"),
    ("survey_submitted", "event.csat >= 4 && event.csat < 5"),
    ("survey_submitted", 'event.comment == "Thanks!"'),
    ("survey_submitted", 'agent.team_id == "blue" && event.csat > 3'),
    ("survey_submitted", "event.nps >= 9"),
    ("qa_evaluated", "event.score >= 90.0"),
    ("qa_evaluated", "event.score > 89.5"),
    ("metric_reported", 'event.name == "night_shift_hours" && event.value >= -1.5'),
]


@pytest.mark.parametrize(("kind", "source"), SIMPLE)
def test_simple_conditions_take_the_plain_python_form(kind: str, source: str) -> None:
    assert Condition(kind, source).fast is not None


@pytest.mark.parametrize(
    "source",
    [
        "size(event.comment) > 0",
        "event.csat == 5 || event.csat == 4",
        'event.comment.startsWith("A")',
    ],
)
def test_anything_else_is_left_to_cel(source: str) -> None:
    assert Condition("survey_submitted", source).fast is None


@settings(max_examples=300, deadline=None)
@given(
    st.integers(0, 5),
    st.sampled_from(["", "Thanks!", "thanks"]),
    st.one_of(st.none(), st.integers(0, 10)),
    st.sampled_from(["", "blue", "red"]),
    st.booleans(),
    st.booleans(),
    st.integers(0, 5),
    st.floats(0, 100, allow_nan=False),
    st.sampled_from(["night_shift_hours", "other"]),
    st.floats(-5, 5, allow_nan=False),
    # Handle times around the thresholds, to the nanosecond.
    st.sampled_from(
        [0, 120_499_999_999, 120_500_000_000, 299_999_999_999, 300_000_000_000, 10**12]
    ),
)
def test_the_plain_python_form_agrees_with_cel(
    csat, comment, nps, team, fcr, transferred, channel, score, name, value, handle
) -> None:  # type: ignore[no-untyped-def]
    interaction = events_pb2.InteractionCompleted(
        resolved_first_contact=fcr, transferred=transferred, channel=channel
    )
    interaction.handle_time.FromNanoseconds(handle)
    payloads = {
        "interaction_completed": interaction,
        "survey_submitted": events_pb2.SurveySubmitted(csat=csat, comment=comment, nps=nps),
        "qa_evaluated": events_pb2.QaEvaluated(score=score),
        "metric_reported": events_pb2.MetricReported(name=name, value=value),
    }
    agent = events_pb2.AgentUpdated(team_id=team)
    for kind, source in SIMPLE:
        c = Condition(kind, source)
        assert c.holds(payloads[kind], agent) == c.holds_in_cel(payloads[kind], agent), source
