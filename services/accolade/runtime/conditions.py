"""Conditions on events, the one shape the built-in rules use until the rules engine."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime

from accolade.v1 import envelope_pb2


def occurred_at(envelope: envelope_pb2.Envelope) -> datetime:
    """When the event happened, as an aware datetime in UTC."""
    ts = envelope.occurred_at
    return datetime.fromtimestamp(ts.seconds + ts.nanos / 1e9, UTC)


def day_of(envelope: envelope_pb2.Envelope) -> date:
    """The calendar day the event happened on (in UTC until agents have time zones)."""
    return datetime.fromtimestamp(envelope.occurred_at.seconds, UTC).date()


@dataclasses.dataclass(frozen=True, slots=True)
class FieldEquals:
    """Holds for an event whose payload is of one type and one of its fields has a value.

    Attributes:
        payload: the payload's name in the envelope, such as "survey_submitted".
        field: the payload's field compared.
        equals: the value the field must have.
    """

    payload: str
    field: str
    equals: object

    def matches(self, envelope: envelope_pb2.Envelope) -> bool:
        """True when `envelope` meets the condition."""
        if envelope.WhichOneof("payload") != self.payload:
            return False
        return bool(getattr(getattr(envelope, self.payload), self.field) == self.equals)


RESOLVED_FIRST_CONTACT = FieldEquals("interaction_completed", "resolved_first_contact", True)
