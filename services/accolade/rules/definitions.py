"""Badge definitions and level tables: checked when applied, then compiled once."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from datetime import datetime

from google.protobuf.message import Message

from accolade.rules import aggregates, calendar
from accolade.rules.conditions import EVENT_TYPES, Condition, ConditionError, numeric_field
from accolade.runtime.validation import Violations
from accolade.v1 import achievements_service_pb2 as pb

_ID = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
REPEATS = ("once", "every_window")
UNITS = ("day", "week")
# The periods a cap counts in, each longer than the windows before it.
CAP_PERIODS = ("week", "month", "quarter", "all_time")
_LENGTH = {"day": 0, "week": 1, "month": 2, "quarter": 3, "all_time": 4}
MAX_REQUIRES = 10
MAX_TIERS = 10
MAX_TEXT = 500


@dataclasses.dataclass(frozen=True, slots=True)
class Tier:
    """One tier of a badge: reached when the aggregate meets `threshold`."""

    id: str
    threshold: float
    xp: int


@dataclasses.dataclass(frozen=True, slots=True, eq=False)
class Rule:
    """One version of a badge definition, compiled.

    Attributes:
        badge_id: the badge's stable id.
        version: from 1; an award keeps the version that granted it.
        effective_at: events that happened from then on are evaluated by this version.
        name, description: what agents read.
        event: the payload type counted.
        condition: which of those events count.
        aggregate, field, window, repeat, min_per_day, unit, min_count: see BadgeSpec.
        tiers: ascending by threshold.
        requires: (badge, tier) pairs that must be held first; an empty tier is any.
        cap: (count, period): at most `count` windows earn it per period.
        counts_from: set by a backfill: events that happened from then on count, though
            before `effective_at`; each such event once (see evaluate.contributions).
    """

    badge_id: str
    version: int
    effective_at: datetime
    name: str
    description: str
    event: str
    condition: Condition
    aggregate: str
    field: str
    window: str
    tiers: tuple[Tier, ...]
    repeat: str
    min_per_day: int
    unit: str
    min_count: int
    requires: tuple[tuple[str, str], ...] = ()
    cap: tuple[int, str] | None = None
    counts_from: datetime | None = None
    archived: bool = False
    # Whether its value is computed from per-day (or per-week) buckets; set from the rest.
    bucketed: bool = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        bucketed = self.aggregate in aggregates.BUCKETED or self.window in calendar.ROLLING_DAYS
        object.__setattr__(self, "bucketed", bucketed)

    @property
    def starts_at(self) -> datetime:
        """From when events count: the effective time, or earlier after a backfill."""
        if self.counts_from is not None and self.counts_from < self.effective_at:
            return self.counts_from
        return self.effective_at

    def early(self, at: datetime) -> bool:
        """Whether an event at `at` counts only through a backfill's claim on it."""
        return self.starts_at <= at < self.effective_at

    @property
    def at_close(self) -> bool:
        """Whether its tiers are decided only when a window closes (avg, min, capped)."""
        return self.aggregate in aggregates.AT_CLOSE or self.cap is not None


def check_badge(v: Violations, at: str, d: pb.BadgeDefinition) -> None:
    """Adds a violation, named `at.<field>`, for everything wrong with `d`."""
    check_meta(v, at, d.metadata)
    s = d.spec
    if not check_condition(v, f"{at}.spec", s.event, s.when):
        return
    aggregate = s.aggregate or "count"
    window = s.window or "all_time"
    if aggregate not in aggregates.AGGREGATES:
        v.add(f"{at}.spec.aggregate", f"must be one of {', '.join(aggregates.AGGREGATES)}")
    elif aggregate in aggregates.FIELD_AGGREGATES:
        if not s.field:
            v.add(f"{at}.spec.field", f"is required for {aggregate}")
        elif (why := numeric_field(s.event, s.field)) is not None:
            v.add(f"{at}.spec.field", why)
    elif s.field:
        v.add(f"{at}.spec.field", f"must be empty for {aggregate}")
    if window not in calendar.WINDOWS:
        v.add(f"{at}.spec.window", f"must be one of {', '.join(calendar.WINDOWS)}")
    elif aggregate in aggregates.AT_CLOSE and window not in calendar.CALENDAR_WINDOWS:
        v.add(
            f"{at}.spec.window",
            f"{aggregate} is decided when its window closes, so it needs a day, week, "
            "month or quarter window",
        )
    elif aggregate == "streak" and window in calendar.ROLLING_DAYS:
        v.add(f"{at}.spec.window", "a streak cannot be counted in a rolling window")
    repeat = s.repeat or "once"
    if repeat not in REPEATS:
        v.add(f"{at}.spec.repeat", f"must be one of {', '.join(REPEATS)}")
    elif repeat == "every_window" and window not in calendar.CALENDAR_WINDOWS:
        v.add(f"{at}.spec.repeat", "every_window needs a day, week, month or quarter window")
    if s.min_per_day < 0:
        v.add(f"{at}.spec.min_per_day", "must not be negative")
    elif s.min_per_day and aggregate not in aggregates.BUCKETED:
        v.add(f"{at}.spec.min_per_day", "applies to distinct_days and streak only")
    if s.unit and (s.unit not in UNITS or aggregate != "streak"):
        v.add(f"{at}.spec.unit", "must be day or week, and only for a streak")
    if s.min_count < 0:
        v.add(f"{at}.spec.min_count", "must not be negative")
    elif s.min_count and aggregate not in aggregates.AT_CLOSE:
        v.add(f"{at}.spec.min_count", "applies to avg and min only")
    _check_tiers(v, f"{at}.spec.tiers", s.tiers)
    _check_requires(v, f"{at}.spec.requires", d)
    if s.HasField("cap"):
        _check_cap(v, f"{at}.spec.cap", s.cap, window, repeat)


def _check_requires(v: Violations, at: str, d: pb.BadgeDefinition) -> None:
    if len(d.spec.requires) > MAX_REQUIRES:
        v.add(at, f"must name at most {MAX_REQUIRES} badges")
    for i, r in enumerate(d.spec.requires):
        if not _ID.match(r.badge):
            v.add(f"{at}[{i}].badge", "must be a badge id")
        elif r.badge == d.metadata.id:
            v.add(f"{at}[{i}].badge", "a badge cannot require itself")
        if r.tier and not _ID.match(r.tier):
            v.add(f"{at}[{i}].tier", "must be a tier id, or empty for any tier")


def _check_cap(v: Violations, at: str, cap: pb.BadgeCap, window: str, repeat: str) -> None:
    if repeat != "every_window":
        v.add(at, "applies to badges earned again in every window (repeat: every_window)")
    if cap.count < 1:
        v.add(f"{at}.count", "must be at least 1")
    if cap.per not in CAP_PERIODS:
        v.add(f"{at}.per", f"must be one of {', '.join(CAP_PERIODS)}")
    elif window in _LENGTH and _LENGTH[cap.per] <= _LENGTH[window]:
        v.add(f"{at}.per", f"must be a longer period than the badge's window ({window})")


def check_requirements(
    v: Violations, applied: Mapping[str, tuple[str, pb.BadgeSpec]], held: Mapping[str, pb.BadgeSpec]
) -> None:
    """Checks that what each badge requires exists, and that no badge requires itself
    through others.

    Args:
        applied: the badges of an apply, by id: where each is in the request, and its spec.
        held: the tenant's other badges in force, by id.
    """
    specs = {**held, **{b: spec for b, (_, spec) in applied.items()}}
    for badge, (at, spec) in applied.items():
        for i, r in enumerate(spec.requires):
            required = specs.get(r.badge)
            if required is None:
                v.add(f"{at}.spec.requires[{i}].badge", f"there is no badge {r.badge!r}")
            elif r.tier and r.tier not in {t.id for t in required.tiers}:
                v.add(f"{at}.spec.requires[{i}].tier", f"{r.badge!r} has no tier {r.tier!r}")
        if _cycle(badge, specs):
            v.add(f"{at}.spec.requires", f"{badge!r} would require itself through other badges")


def _cycle(start: str, specs: Mapping[str, pb.BadgeSpec]) -> bool:
    """Whether following requirements from `start` leads back to it."""
    seen: set[str] = set()
    todo = [r.badge for r in specs[start].requires if r.badge != start]
    while todo:
        b = todo.pop()
        if b == start:
            return True
        if b in seen or b not in specs:
            continue
        seen.add(b)
        todo.extend(r.badge for r in specs[b].requires)
    return False


def _check_tiers(v: Violations, at: str, tiers: Sequence[pb.BadgeTier]) -> None:
    if not tiers:
        v.add(at, "must hold at least one tier")
    elif len(tiers) > MAX_TIERS:
        v.add(at, f"must hold at most {MAX_TIERS} tiers")
    seen: set[str] = set()
    previous: float | None = None
    for i, t in enumerate(tiers):
        if not _ID.match(t.id):
            v.add(f"{at}[{i}].id", "must be lower-case letters, digits and dashes")
        elif t.id in seen:
            v.add(f"{at}[{i}].id", f"{t.id!r} appears more than once")
        seen.add(t.id)
        if previous is not None and t.threshold <= previous:
            v.add(
                f"{at}[{i}].threshold",
                f"tiers must ascend: {t.threshold:g} is not above the previous {previous:g}",
            )
        previous = t.threshold
        if t.xp < 0:
            v.add(f"{at}[{i}].xp", "must not be negative")


def check_condition(v: Violations, at: str, event: str, when: str) -> bool:
    """Checks the `event` and the CEL `when` of a document's spec (or of a part of it,
    named `at`) against that event's shape; False when the event type is unknown (and
    nothing of it can be checked)."""
    if event not in EVENT_TYPES:
        v.add(f"{at}.event", f"must be one of {', '.join(EVENT_TYPES)}, not {event!r}")
        return False
    if when:
        try:
            Condition(event, when)
        except ConditionError as exc:
            v.add(f"{at}.when", str(exc))
    return True


def content_of(d: Message) -> bytes:
    """What a version of a program document is compared by: its metadata and spec, as
    applied (the service's own fields, such as its version, left out)."""
    kept = type(d)()
    kept.metadata.CopyFrom(d.metadata)  # type: ignore[attr-defined]
    kept.spec.CopyFrom(d.spec)  # type: ignore[attr-defined]
    return kept.SerializeToString(deterministic=True)


def check_meta(v: Violations, at: str, m: pb.ObjectMeta) -> None:
    """Checks a document's id, name and description."""
    if not _ID.match(m.id):
        v.add(f"{at}.metadata.id", "must be 1-64 lower-case letters, digits and dashes")
    if not m.name.strip():
        v.add(f"{at}.metadata.name", "is required")
    elif len(m.name) > 100:
        v.add(f"{at}.metadata.name", "must be at most 100 characters")
    if len(m.description) > MAX_TEXT:
        v.add(f"{at}.metadata.description", f"must be at most {MAX_TEXT} characters")


def check_level_table(v: Violations, at: str, t: pb.LevelTable) -> None:
    """Adds a violation for everything wrong with a level table."""
    check_meta(v, at, t.metadata)
    levels = t.spec.levels
    if not levels:
        v.add(f"{at}.spec.levels", "must hold at least one level")
    for i, lv in enumerate(levels):
        if lv.level != i + 1:
            v.add(f"{at}.spec.levels[{i}].level", f"must be {i + 1}: levels count up from 1")
        if not lv.name.strip():
            v.add(f"{at}.spec.levels[{i}].name", "is required")
        if i == 0 and lv.xp != 0:
            v.add(f"{at}.spec.levels[0].xp", "must be 0: every agent starts at level 1")
        if i and lv.xp <= levels[i - 1].xp:
            v.add(f"{at}.spec.levels[{i}].xp", "must be above the previous level's")


def compile_badge(
    d: pb.BadgeDefinition,
    version: int,
    effective_at: datetime,
    counts_from: datetime | None = None,
) -> Rule:
    """The compiled rule of a definition that passed `check_badge`."""
    s = d.spec
    return Rule(
        badge_id=d.metadata.id,
        version=version,
        effective_at=effective_at,
        name=d.metadata.name,
        description=d.metadata.description,
        event=s.event,
        condition=Condition(s.event, s.when or "true"),
        aggregate=s.aggregate or "count",
        field=s.field,
        window=s.window or "all_time",
        tiers=tuple(Tier(t.id, t.threshold, t.xp) for t in s.tiers),
        repeat=s.repeat or "once",
        min_per_day=s.min_per_day or 1,
        unit=s.unit or "day",
        min_count=s.min_count or 1,
        requires=tuple((r.badge, r.tier) for r in s.requires),
        cap=(s.cap.count, s.cap.per) if s.HasField("cap") else None,
        counts_from=counts_from,
        archived=d.archived,
    )


@dataclasses.dataclass(frozen=True, slots=True)
class Levels:
    """A level table: `xp[i]` is the XP at which level i + 1 is reached."""

    version: int
    names: tuple[str, ...]
    xp: tuple[int, ...]

    def level_of(self, points: int) -> int:
        """The level an agent with `points` XP is at (1 at least)."""
        level = 0
        for i, threshold in enumerate(self.xp):
            if points >= threshold:
                level = i + 1
        return level


def compile_levels(t: pb.LevelTable, version: int) -> Levels:
    """The compiled level table of one that passed `check_level_table`."""
    return Levels(
        version, tuple(lv.name for lv in t.spec.levels), tuple(lv.xp for lv in t.spec.levels)
    )
