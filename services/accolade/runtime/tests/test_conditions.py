"""FieldEquals: the condition shape of the built-in badges, challenges and boards."""

from __future__ import annotations

from accolade.runtime.conditions import RESOLVED_FIRST_CONTACT, FieldEquals
from accolade.v1 import envelope_pb2, events_pb2


def test_a_condition_holds_only_for_its_payload_type_and_value() -> None:
    resolved = envelope_pb2.Envelope(
        interaction_completed=events_pb2.InteractionCompleted(resolved_first_contact=True)
    )
    unresolved = envelope_pb2.Envelope(
        interaction_completed=events_pb2.InteractionCompleted(resolved_first_contact=False)
    )
    five_stars = envelope_pb2.Envelope(survey_submitted=events_pb2.SurveySubmitted(csat=5))
    four_stars = envelope_pb2.Envelope(survey_submitted=events_pb2.SurveySubmitted(csat=4))
    top_score = FieldEquals("survey_submitted", "csat", 5)

    assert RESOLVED_FIRST_CONTACT.matches(resolved)
    assert not RESOLVED_FIRST_CONTACT.matches(unresolved)
    assert not RESOLVED_FIRST_CONTACT.matches(five_stars)
    assert top_score.matches(five_stars)
    assert not top_score.matches(four_stars)
    assert not top_score.matches(envelope_pb2.Envelope())
