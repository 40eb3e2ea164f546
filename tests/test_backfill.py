"""`accolade apply --backfill`: a new badge counts the archived history, once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest

from accolade import testing
from accolade.v1 import achievements_service_pb2 as apb
from tests.platform import Platform
from tests.test_program_week import cli

BADGE = """
apiVersion: accolade/v1
kind: Badge
metadata: {id: resolutions, name: Resolutions, description: First-contact resolutions.}
spec:
  event: interaction_completed
  when: event.resolved_first_contact
  tiers:
    - {id: bronze, threshold: 3, xp: 10}
    - {id: silver, threshold: 4, xp: 10}
"""


async def test_a_new_badge_counts_the_history_since_a_date_once(
    platform: Platform, tenant: str, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    history = [
        testing.interaction(tenant, "a1", occurred_at=now - timedelta(hours=h)) for h in (50, 30, 1)
    ]
    history += [
        testing.interaction(tenant, "a1", resolved=False, occurred_at=now - timedelta(hours=2)),
        testing.interaction(tenant, "a1", occurred_at=now - timedelta(hours=80)),  # before since
        testing.interaction(tenant, "a2", occurred_at=now - timedelta(hours=20)),
    ]
    await platform.publish(history)
    await platform.published("gateway")
    await platform.caught_up("gateway", "achievements")

    (tmp_path / "badge.yaml").write_text(BADGE)
    since = now - timedelta(days=3)
    apply = ["apply", "-f", str(tmp_path / "badge.yaml"), "--tenant", tenant]
    apply += ["--backfill", since.isoformat()]
    apply += ["--address", f"127.0.0.1:{platform.endpoints['achievements'].grpc_port}"]
    apply += ["--gateway", f"127.0.0.1:{platform.endpoints['gateway'].grpc_port}"]
    apply += ["--key", platform.admin_keys[tenant]]
    code, out = await cli(*apply)
    assert code == 0, out
    # a1's three resolutions since three days ago earn bronze; a2's one earns nothing.
    assert out.splitlines() == [
        "badge/resolutions created (version 1)",
        "backfill: counted 4 events, 1 award made",
    ]
    badges = await platform.achievements.ListAgentBadges(
        apb.ListAgentBadgesRequest(tenant_id=tenant, agent_id="a1")
    )
    assert [(b.badge_id, b.tier_id, b.explanation.value) for b in badges.badges] == [
        ("resolutions", "bronze", 3.0)
    ]
    # The definition says from when it counts.
    got = await platform.achievements.GetBadgeDefinition(
        apb.GetBadgeDefinitionRequest(tenant_id=tenant, badge_id="resolutions")
    )
    assert got.badge.counts_from.ToDatetime(tzinfo=UTC) == since

    # Events count live on top of the history, and not twice: this one happened three
    # minutes ago, before the badge came into force, and arrives after the backfill.
    await platform.publish([testing.interaction(tenant, "a1")])
    await platform.published("gateway")
    await platform.caught_up("achievements")
    progress = await platform.achievements.GetAgentProgress(
        apb.GetAgentProgressRequest(tenant_id=tenant, agent_id="a1")
    )
    (standing,) = [p for p in progress.badges if p.badge_id == "resolutions"]
    assert standing.value == 4.0
    badges = await platform.achievements.ListAgentBadges(
        apb.ListAgentBadgesRequest(tenant_id=tenant, agent_id="a1")
    )
    assert [b.tier_id for b in badges.badges] == ["bronze", "silver"]

    # The badge is no longer new: applying again backfills nothing.
    code, out = await cli(*apply)
    assert out.splitlines() == [
        "badge/resolutions unchanged (version 1)",
        "backfill: no new badge to count history for",
    ]
    # Another event from before the badge came into force, counted live: a backfill run
    # again (as to resume one cut off) with it and the history counts nothing twice.
    early = testing.interaction(tenant, "a1", occurred_at=now - timedelta(hours=5))
    await platform.publish([early])
    await platform.published("gateway")
    await platform.caught_up("achievements")
    first = apb.BackfillRequest(tenant_id=tenant, badge_ids=["resolutions"])
    first.since.FromDatetime(since)
    page = apb.BackfillRequest(events=[*history, early])
    again = await platform.achievements.Backfill(iter([first, page]))
    assert (again.counted, again.awards) == (0, 0)
    # From another time it is refused: the badge counts from the first one.
    first.since.FromDatetime(since - timedelta(days=1))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await platform.achievements.Backfill(iter([first]))
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    progress = await platform.achievements.GetAgentProgress(
        apb.GetAgentProgressRequest(tenant_id=tenant, agent_id="a1")
    )
    assert [p.value for p in progress.badges if p.badge_id == "resolutions"] == [5.0]
