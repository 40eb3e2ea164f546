"""Windows in an agent's time zone: which calendar period an instant falls in."""

from __future__ import annotations

import dataclasses
import functools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

WINDOWS = ("all_time", "day", "week", "month", "quarter", "rolling_7d", "rolling_30d")
# Calendar windows have a start and an end; the others are keyed by this one start.
CALENDAR_WINDOWS = ("day", "week", "month", "quarter")
ROLLING_DAYS = {"rolling_7d": 7, "rolling_30d": 30}
ALL_TIME = date(1970, 1, 1)


@functools.lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo:
    """The IANA time zone called `name`.

    Raises:
        ValueError: `name` is not an IANA time zone name.
    """
    # ZoneInfo also opens paths and accepts odd spellings; only real names are wanted.
    if name not in _zone_names():
        raise ValueError(f"{name[:64]!r} is not an IANA time zone name, such as Europe/Paris")
    try:
        return ZoneInfo(name)
    except ZoneInfoNotFoundError:
        raise ValueError(f"{name[:64]!r} is not an IANA time zone name") from None


@functools.cache
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones()) | {"UTC"}


@dataclasses.dataclass(frozen=True, slots=True)
class Calendar:
    """How a tenant counts time: its default zone, its week and its working days.

    Attributes:
        default_zone: the zone of agents whose roster entry names none.
        week_start: 0 for Monday ... 6 for Sunday.
        working_days: the weekdays (0 = Monday) agents are scheduled; a day outside them
            neither counts for nor breaks a daily streak.
        lateness: how late an event may arrive and still count.
    """

    default_zone: str = "UTC"
    week_start: int = 0
    working_days: frozenset[int] = frozenset(range(7))
    lateness: timedelta = timedelta(hours=72)


def local_day(at: datetime, tz: ZoneInfo) -> date:
    """The calendar day `at` falls on in `tz`."""
    return at.astimezone(tz).date()


def window_start(day: date, window: str, week_start: int) -> date:
    """The first day of the `window` that contains `day`."""
    if window == "day":
        return day
    if window == "week":
        return day - timedelta(days=(day.weekday() - week_start) % 7)
    if window == "month":
        return day.replace(day=1)
    if window == "quarter":
        return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    return ALL_TIME


def window_end(start: date, window: str) -> date | None:
    """The day after the last day of the `window` starting on `start` (None: no end)."""
    if window == "day":
        return start + timedelta(days=1)
    if window == "week":
        return start + timedelta(days=7)
    if window in ("month", "quarter"):
        months = start.month - 1 + (1 if window == "month" else 3)
        return date(start.year + months // 12, months % 12 + 1, 1)
    return None


def week_of(day: date, week_start: int) -> date:
    """The first day of the week that contains `day`."""
    return window_start(day, "week", week_start)


def instant(day: date, tz: ZoneInfo) -> datetime:
    """The instant (in UTC) at which `day` starts in `tz`."""
    return datetime.combine(day, time(), tz).astimezone(UTC)


def window_bounds(
    start: date, window: str, tz: ZoneInfo
) -> tuple[datetime | None, datetime | None]:
    """Where the window starting on `start` begins and ends, as instants (None: unbounded)."""
    end = window_end(start, window)
    if end is None:
        return None, None
    return instant(start, tz), instant(end, tz)
