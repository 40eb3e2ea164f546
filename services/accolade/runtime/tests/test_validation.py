"""Request validation: every violation at once, each naming its field path."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from google.protobuf import timestamp_pb2

from accolade.runtime.errors import InvalidArgument
from accolade.runtime.validation import Violations

NOW = datetime(2026, 3, 14, 15, 9, 26, tzinfo=UTC)
TODAY = NOW.date()
CANONICAL = "6f9619ff-8b86-d011-b42d-00c04fc964ff"


def stamp(at: datetime) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(at)
    return ts


def test_check_raises_every_violation_with_its_field_path() -> None:
    v = Violations()
    v.identifier("events[0].tenant_id", "")
    v.uuid("events[1].event_id", "not-a-uuid")
    v.timestamp("events[2].occurred_at", stamp(NOW + timedelta(days=1)), True, now=NOW)
    v.day("day", "2026-02-30", today=TODAY)

    with pytest.raises(InvalidArgument) as caught:
        v.check()

    assert [field for field, _ in caught.value.violations] == [
        "events[0].tenant_id",
        "events[1].event_id",
        "events[2].occurred_at",
        "day",
    ]
    message = str(caught.value)
    assert "events[0].tenant_id: is required" in message
    assert "events[2].occurred_at: must not be in the future" in message


def test_check_passes_when_nothing_is_wrong() -> None:
    v = Violations()
    v.identifier("tenant_id", "acme")
    v.uuid("event_id", CANONICAL)
    v.timestamp("occurred_at", stamp(NOW - timedelta(hours=1)), True, now=NOW)

    v.check()

    assert v.items == []


@pytest.mark.parametrize(
    "given",
    [
        CANONICAL,
        CANONICAL.upper(),
        "{6F9619FF-8B86-D011-B42D-00C04FC964FF}",
        "urn:uuid:6f9619ff-8b86-d011-b42d-00c04fc964ff",
        "6f9619ff8b86d011b42d00c04fc964ff",
    ],
)
def test_uuids_are_returned_in_canonical_form(given: str) -> None:
    v = Violations()

    assert v.uuid("event_id", given) == CANONICAL
    assert v.items == []


@pytest.mark.parametrize(
    ("given", "description"),
    [
        ("", "is required"),
        ("6f9619ff-8b86-d011-b42d", "must be a UUID, not '6f9619ff-8b86-d011-b42d'"),
        ("x" * 500, "must be a UUID, not '" + "x" * 64 + "'"),
    ],
)
def test_a_bad_uuid_is_a_violation_and_yields_nothing(given: str, description: str) -> None:
    v = Violations()

    assert v.uuid("event_id", given) == ""
    assert v.items == [("event_id", description)]


@pytest.mark.parametrize(
    ("offset", "wrong"),
    [
        (timedelta(days=-1), False),
        (timedelta(seconds=300), False),  # within the allowed clock skew
        (timedelta(seconds=302), True),
        (timedelta(days=1), True),
    ],
)
def test_a_timestamp_in_the_future_is_rejected(offset: timedelta, wrong: bool) -> None:
    v = Violations()

    v.timestamp("occurred_at", stamp(NOW + offset), True, now=NOW)

    assert v.items == ([("occurred_at", "must not be in the future")] if wrong else [])


def test_a_missing_or_ancient_timestamp_is_rejected() -> None:
    v = Violations()

    v.timestamp("a", timestamp_pb2.Timestamp(), False, now=NOW)
    v.timestamp("b", timestamp_pb2.Timestamp(seconds=1_700_000), True, now=NOW)  # ms taken for s

    assert v.items == [("a", "is required"), ("b", "must be after 2000-01-01")]


@pytest.mark.parametrize(
    ("given", "expected", "wrong"),
    [
        ("", TODAY, False),
        ("2024-02-29", date(2024, 2, 29), False),
        ("2025-02-29", TODAY, True),
        ("14/03/2026", TODAY, True),
        ("yesterday", TODAY, True),
    ],
)
def test_days_are_parsed_as_iso_dates(given: str, expected: date, wrong: bool) -> None:
    v = Violations()

    assert v.day("day", given, today=TODAY) == expected
    assert [f for f, _ in v.items] == (["day"] if wrong else [])


@pytest.mark.parametrize(
    ("given", "wrong"),
    [
        ("agent-7", False),
        ("a.b_c:d@e-f", False),
        ("7", False),
        ("x" * 128, False),
        ("x" * 129, True),
        ("-leading-dash", True),
        ("has space", True),
        ("émile", True),
    ],
)
def test_identifiers(given: str, wrong: bool) -> None:
    v = Violations()

    v.identifier("agent_id", given)

    assert [f for f, _ in v.items] == (["agent_id"] if wrong else [])
