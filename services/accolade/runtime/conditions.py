"""Conditions on events, the one shape the built-in rules use until the rules engine."""

from __future__ import annotations

import dataclasses

from accolade.v1 import envelope_pb2


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
