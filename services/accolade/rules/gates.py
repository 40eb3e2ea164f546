"""What decides an award beyond its own window: badges it requires, and caps per period.

Both are decided from what is already held, so the store reads the held tiers (or the
windows awarded in a cap's period) and these functions decide; `rechecks` names the
badges that an award may have unlocked, to be decided again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date

from accolade.rules import calendar
from accolade.rules.definitions import Rule
from accolade.rules.evaluate import Award, Program

# (tenant, agent, badge, tier): a tier an agent holds, in any window.
Holding = tuple[str, str, str, str]


def requirements(found: Iterable[Award]) -> set[tuple[str, str, str]]:
    """The (tenant, agent, badge) whose holdings decide whether `found` may be awarded."""
    return {(*aw.key[:2], b) for aw in found for b, _ in aw.rule.requires}


def rechecks(made: Iterable[Award], programs: Mapping[str, Program]) -> set[tuple[str, str, str]]:
    """The (tenant, agent, badge) to decide again because `made` met what they require."""
    out = set()
    for aw in made:
        t, a, b, _ = aw.key
        program = programs.get(t)
        for dependent in program.dependents.get(b, ()) if program else ():
            out.add((t, a, dependent))
    return out


def gate(found: Iterable[Award], held: Callable[[Holding], bool]) -> list[Award]:
    """The awards whose agents hold every badge their rule requires.

    Args:
        held: whether a (tenant, agent, badge, tier) is held; an empty tier asks for any.
    """
    return [aw for aw in found if all(held((*aw.key[:2], b, tier)) for b, tier in aw.rule.requires)]


def cap_period(rule: Rule, window_start: date, cal: calendar.Calendar) -> date:
    """The first day of the cap period a window of a capped rule counts in."""
    return calendar.window_start(window_start, rule.cap[1] if rule.cap else "", cal.week_start)


def capped(
    found: Iterable[Award],
    taken: Mapping[tuple[str, str, str, date], set[date]],
    programs: Mapping[str, Program],
) -> list[Award]:
    """The awards a cap allows: in each period, the earliest windows up to its count.

    Args:
        found: awards being made, at the close of their windows.
        taken: the windows already awarded, by (tenant, agent, badge, cap period start).
    """
    out: list[Award] = []
    used = {k: set(v) for k, v in taken.items()}
    for aw in sorted(found, key=lambda aw: aw.key):
        if aw.rule.cap is None:
            out.append(aw)
            continue
        t, a, b, start = aw.key
        windows = used.setdefault((t, a, b, cap_period(aw.rule, start, programs[t].cal)), set())
        if start in windows or len(windows) < aw.rule.cap[0]:
            windows.add(start)
            out.append(aw)
    return out
