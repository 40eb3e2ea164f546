"""Challenge definitions. The built-in one is data; later ones are loaded the same shape."""

from __future__ import annotations

import dataclasses

from accolade.runtime.conditions import RESOLVED_FIRST_CONTACT, FieldEquals


@dataclasses.dataclass(frozen=True, slots=True)
class DailyChallenge:
    """Reach `target` matching events in one calendar day (UTC for now)."""

    challenge_id: str
    name: str
    description: str
    version: int
    target: int
    counts: FieldEquals


TEN_RESOLUTIONS = DailyChallenge(
    challenge_id="ten-resolutions-today",
    name="10 resolutions today",
    description="Resolve 10 customer issues on first contact in one day.",
    version=1,
    target=10,
    counts=RESOLVED_FIRST_CONTACT,
)
CHALLENGES = (TEN_RESOLUTIONS,)
