"""Badge rules. The built-in ones are data; later rules are loaded the same shape."""

from __future__ import annotations

import dataclasses

from accolade.runtime.conditions import RESOLVED_FIRST_CONTACT, FieldEquals
from accolade.v1 import envelope_pb2


@dataclasses.dataclass(frozen=True, slots=True)
class BadgeRule:
    """A once-per-agent badge earned by the first event whose field has a given value.

    Attributes:
        badge_id: stable id, such as "first-resolution".
        name: display name.
        description: what earns it, in one sentence.
        version: bumped whenever the criteria change; stored with each award.
        when: the events that earn it.
    """

    badge_id: str
    name: str
    description: str
    version: int
    when: FieldEquals

    def matches(self, envelope: envelope_pb2.Envelope) -> bool:
        """True when `envelope` earns this badge."""
        return self.when.matches(envelope)


BUILT_IN: tuple[BadgeRule, ...] = (
    BadgeRule(
        badge_id="first-resolution",
        name="First Resolution",
        description="Resolve a customer's issue on first contact.",
        version=1,
        when=RESOLVED_FIRST_CONTACT,
    ),
    BadgeRule(
        badge_id="five-stars",
        name="Five Stars",
        description="Receive a 5-star customer satisfaction survey.",
        version=1,
        when=FieldEquals("survey_submitted", "csat", 5),
    ),
)

BY_ID = {r.badge_id: r for r in BUILT_IN}
