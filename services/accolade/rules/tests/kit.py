"""Building rules and events for the engine's tests."""

from __future__ import annotations

from datetime import UTC, datetime

from accolade import testing
from accolade.rules.calendar import Calendar
from accolade.rules.definitions import Rule, compile_badge
from accolade.rules.evaluate import Program
from accolade.v1 import achievements_service_pb2 as pb
from accolade.v1 import envelope_pb2

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def badge(badge_id: str, version: int = 1, effective_at: datetime = EPOCH, **spec: object) -> Rule:
    """A compiled badge; `spec` holds BadgeSpec fields, tiers as (id, threshold, xp)."""
    tiers = spec.pop("tiers", [("bronze", 1, 10)])
    d = pb.BadgeDefinition(
        metadata=pb.ObjectMeta(id=badge_id, name=badge_id.title()),
        spec=pb.BadgeSpec(
            tiers=[pb.BadgeTier(id=i, threshold=t, xp=x) for i, t, x in tiers],  # type: ignore[attr-defined]
            **spec,  # type: ignore[arg-type]
        ),
    )
    return compile_badge(d, version, effective_at)


def program(*rules: Rule, cal: Calendar | None = None) -> Program:
    return Program.of(rules, cal or Calendar())


def survey_at(agent: str, at: datetime, csat: int, tenant: str = "t") -> envelope_pb2.Envelope:
    return testing.survey(tenant, agent, csat, occurred_at=at)


def interaction_at(
    agent: str, at: datetime, *, fcr: bool = True, handle: int = 240, tenant: str = "t"
) -> envelope_pb2.Envelope:
    return testing.interaction(tenant, agent, resolved=fcr, occurred_at=at, handle_seconds=handle)
