"""Definitions are checked when applied: every problem is named, with its field."""

from __future__ import annotations

import pytest

from accolade.rules.definitions import check_badge, check_level_table, check_requirements
from accolade.runtime.validation import Violations
from accolade.v1 import achievements_service_pb2 as pb


def problems(**spec: object) -> dict[str, str]:
    tiers = spec.pop("tiers", [pb.BadgeTier(id="bronze", threshold=1)])
    d = pb.BadgeDefinition(
        metadata=pb.ObjectMeta(id=str(spec.pop("id", "b")), name="B"),
        spec=pb.BadgeSpec(tiers=tiers, **spec),  # type: ignore[arg-type]
    )
    v = Violations()
    check_badge(v, "badges[0]", d)
    return dict(v.items)


def test_a_good_definition_has_no_problem() -> None:
    assert problems(event="survey_submitted", when="event.csat == 5") == {}
    assert (
        problems(event="interaction_completed", aggregate="avg", field="handle_time", window="week")
        == {}
    )


@pytest.mark.parametrize(
    ("spec", "field", "says"),
    [
        ({"event": "survey_submited"}, "badges[0].spec.event", "must be one of"),
        (
            {"event": "survey_submitted", "when": "event.cszt == 5"},
            "badges[0].spec.when",
            "1:6: undefined field 'cszt'",
        ),
        (
            {"event": "survey_submitted", "when": "event.csat ==\n 5 &&"},
            "badges[0].spec.when",
            "2:6: Syntax error",
        ),
        (
            {"event": "survey_submitted", "when": "event.csat"},
            "badges[0].spec.when",
            "must be true or false",
        ),
        (
            {"event": "survey_submitted", "aggregate": "median"},
            "badges[0].spec.aggregate",
            "must be one of",
        ),
        (
            {"event": "survey_submitted", "aggregate": "sum"},
            "badges[0].spec.field",
            "is required for sum",
        ),
        (
            {"event": "survey_submitted", "aggregate": "sum", "field": "comment"},
            "badges[0].spec.field",
            "not a number",
        ),
        (
            {"event": "survey_submitted", "aggregate": "sum", "field": "csta"},
            "badges[0].spec.field",
            "has no field 'csta'",
        ),
        (
            {"event": "survey_submitted", "window": "fortnight"},
            "badges[0].spec.window",
            "must be one of",
        ),
        (
            {"event": "survey_submitted", "aggregate": "avg", "field": "csat"},
            "badges[0].spec.window",
            "decided when its window closes",
        ),
        (
            {"event": "survey_submitted", "repeat": "every_window"},
            "badges[0].spec.repeat",
            "needs a day, week",
        ),
        (
            {"event": "survey_submitted", "id": "CSAT Champion"},
            "badges[0].metadata.id",
            "lower-case",
        ),
        (
            {
                "event": "survey_submitted",
                "tiers": [
                    pb.BadgeTier(id="gold", threshold=50),
                    pb.BadgeTier(id="silver", threshold=10),
                ],
            },
            "badges[0].spec.tiers[1].threshold",
            "tiers must ascend",
        ),
        ({"event": "survey_submitted", "tiers": []}, "badges[0].spec.tiers", "at least one tier"),
    ],
)
def test_each_problem_is_named(spec: dict[str, object], field: str, says: str) -> None:
    found = problems(**spec)
    assert field in found, found
    assert says in found[field]


def test_a_level_table_counts_up_from_level_one_at_zero_xp() -> None:
    t = pb.LevelTable(
        metadata=pb.ObjectMeta(id="levels", name="Levels"),
        spec=pb.LevelTableSpec(
            levels=[pb.Level(level=1, name="Rookie", xp=10), pb.Level(level=3, name="Pro", xp=5)]
        ),
    )
    v = Violations()
    check_level_table(v, "level_table", t)
    assert dict(v.items) == {
        "level_table.spec.levels[0].xp": "must be 0: every agent starts at level 1",
        "level_table.spec.levels[1].level": "must be 2: levels count up from 1",
    } | {"level_table.spec.levels[1].xp": "must be above the previous level's"}


@pytest.mark.parametrize(
    ("spec", "field", "says"),
    [
        (
            {"event": "survey_submitted", "window": "day", "cap": pb.BadgeCap(count=2, per="week")},
            "badges[0].spec.cap",
            "repeat: every_window",
        ),
        (
            {
                "event": "survey_submitted",
                "window": "week",
                "repeat": "every_window",
                "cap": pb.BadgeCap(count=2, per="week"),
            },
            "badges[0].spec.cap.per",
            "longer period than the badge's window (week)",
        ),
        (
            {
                "event": "survey_submitted",
                "window": "day",
                "repeat": "every_window",
                "cap": pb.BadgeCap(count=0, per="week"),
            },
            "badges[0].spec.cap.count",
            "at least 1",
        ),
        (
            {"event": "survey_submitted", "requires": [pb.BadgeRequirement(badge="b")]},
            "badges[0].spec.requires[0].badge",
            "cannot require itself",
        ),
    ],
)
def test_caps_and_requirements_are_checked(spec: dict[str, object], field: str, says: str) -> None:
    found = problems(**spec)
    assert list(found) == [field]
    assert says in found[field]


def needs(*required: tuple[str, str]) -> pb.BadgeSpec:
    return pb.BadgeSpec(
        tiers=[pb.BadgeTier(id="bronze"), pb.BadgeTier(id="gold")],
        requires=[pb.BadgeRequirement(badge=b, tier=t) for b, t in required],
    )


def test_what_a_badge_requires_must_exist_and_never_lead_back_to_it() -> None:
    v = Violations()
    applied = {
        "a": ("badges[0]", needs(("c", "gold"))),
        "b": ("badges[1]", needs(("nope", ""), ("c", "platinum"))),
    }
    held = {"c": needs(("a", ""))}  # already in force: c needs a, and now a needs c
    check_requirements(v, applied, held)
    assert dict(v.items) == {
        "badges[0].spec.requires": "'a' would require itself through other badges",
        "badges[1].spec.requires[0].badge": "there is no badge 'nope'",
        "badges[1].spec.requires[1].tier": "'c' has no tier 'platinum'",
    }
    v = Violations()
    check_requirements(v, {"a": ("badges[0]", needs(("c", "gold")))}, {"c": needs()})
    assert v.items == []
