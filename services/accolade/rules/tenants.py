"""How each tenant counts time, from its settings on the identity topic.

Every service that puts events in days, weeks or months (achievements' badge windows,
leaderboards' periods) reads a tenant's calendar the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from accolade.rules import calendar
from accolade.runtime.identity import Tenant
from accolade.runtime.service import Context
from accolade.runtime.settings import Settings

CalendarOf = Callable[[str], calendar.Calendar]


def tenant_calendar(settings: Settings, tenant: Tenant | None) -> calendar.Calendar:
    """How a tenant counts time: its default zone, first day of the week and lateness.

    A tenant the identity topic has not told of yet counts in UTC weeks from Monday, with
    the service's default lateness (ACCOLADE_EVENT_LATENESS_SECONDS).
    """
    if tenant is None:
        return calendar.Calendar(lateness=timedelta(seconds=settings.event_lateness_seconds))
    return calendar.Calendar(
        default_zone=tenant.time_zone or "UTC",
        week_start=max(0, tenant.week_start - 1),
        lateness=timedelta(seconds=tenant.lateness_seconds),
    )


def calendars(ctx: Context) -> CalendarOf:
    """Each tenant's calendar, as the tenant's settings now stand."""
    return lambda tenant_id: tenant_calendar(ctx.settings, ctx.identity.tenant(tenant_id))
