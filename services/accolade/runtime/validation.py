"""Request validation that collects every violation, each naming its field."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime

from google.protobuf import timestamp_pb2

from accolade.runtime.errors import InvalidArgument

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")
_CANONICAL_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def canonical_uuid(value: str) -> str:
    """`value` as a UUID in canonical form (lower case, hyphens).

    Raises:
        ValueError: it is not a UUID.
    """
    # Most senders already send the canonical form; checking it is a fraction of parsing.
    if _CANONICAL_UUID.match(value):
        return value
    return str(uuid.UUID(value))


class Violations:
    """Collects (field, description) pairs; `check` raises them all at once."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, field: str, description: str) -> None:
        """Records that `field` is wrong, and why."""
        self.items.append((field, description))

    def identifier(self, field: str, value: str) -> None:
        """A tenant, agent or source id: 1 to 128 letters, digits and . _ : @ -."""
        if not value:
            self.add(field, "is required")
        elif not _ID.match(value):
            self.add(
                field, "must be 1-128 letters, digits or . _ : @ - and start with a letter or digit"
            )

    def uuid(self, field: str, value: str) -> str:
        """A UUID; returns its canonical form ('' when invalid)."""
        if not value:
            self.add(field, "is required")
            return ""
        try:
            return canonical_uuid(value)
        except ValueError:
            self.add(field, f"must be a UUID, not {value[:64]!r}")
            return ""

    def timestamp(
        self,
        field: str,
        value: timestamp_pb2.Timestamp,
        present: bool,
        *,
        now: datetime,
        max_skew_seconds: float = 300.0,
    ) -> None:
        """A point in time that is set and not in the future (allowing some clock skew)."""
        if not present:
            self.add(field, "is required")
            return
        if value.seconds < 946684800:  # 2000-01-01: older is a unit or clock mistake
            self.add(field, "must be after 2000-01-01")
        elif value.seconds > now.timestamp() + max_skew_seconds:
            self.add(field, "must not be in the future")

    def day(self, field: str, value: str, *, today: date) -> date:
        """A YYYY-MM-DD day; empty means `today`."""
        if not value:
            return today
        try:
            return date.fromisoformat(value)
        except ValueError:
            self.add(field, f"must be a day as YYYY-MM-DD, not {value[:32]!r}")
            return today

    def check(self) -> None:
        """Raises InvalidArgument with every violation, if any."""
        if self.items:
            raise InvalidArgument(self.items)


def utcnow() -> datetime:
    """The current time in UTC (one place to read the clock)."""
    return datetime.now(UTC)
