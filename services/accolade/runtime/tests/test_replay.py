"""Dead letters replayed once their cause is fixed: applied once, however often asked."""

from __future__ import annotations

import collections

from accolade.runtime import deadletters
from accolade.runtime.metrics import Metrics
from accolade.runtime.tests.kit import NAME, Kit, envelope, running, samples


async def test_letters_replay_once_their_cause_is_fixed_and_only_once(kit: Kit, eventually) -> None:
    denied = [envelope("denied"), envelope("denied")]
    fine = envelope("a1")
    await kit.send_together([*denied, fine, b"not a protobuf"])
    metrics = Metrics.create("rt")

    async with running(kit.inbox(metrics)):
        await eventually(kit.all_committed, "the batch applied and committed")
        assert [e for e, _ in await kit.effects()] == [fine.event_id]

        # The cause is fixed; an operator asks for a replay, twice before it happens.
        await kit.pool.execute("DELETE FROM denied")
        async with kit.pool.acquire() as conn:
            asked = await deadletters.request_replay(conn, NAME, None)
            again = await deadletters.request_replay(conn, NAME, None)
        assert len(asked) == 3 and again == []

        async def outcomes() -> dict[str, int]:
            async with kit.pool.acquire() as conn:
                return await deadletters.replay_progress(conn, asked)

        await eventually(lambda: _settled(outcomes), "the replay done")
        assert await outcomes() == {"applied": 2, "failed": 1}

        # Asked once more: the applied ones are not replayed; the undecodable one fails again.
        async with kit.pool.acquire() as conn:
            third = await deadletters.request_replay(conn, NAME, None)
        assert len(third) == 1
        await eventually(lambda: _settled(outcomes), "the second replay done")

    applied = collections.Counter(e for e, _ in await kit.effects())
    assert applied == {fine.event_id: 1, denied[0].event_id: 1, denied[1].event_id: 1}
    assert samples(metrics, "dead_letters_replayed") == {
        (NAME, "applied"): 2,
        (NAME, "failed"): 2,
    }
    letters = await kit.pool.fetch(
        "SELECT kind, replay_outcome, attempts FROM dead_letters ORDER BY source_offset"
    )
    assert [tuple(r) for r in letters] == [
        ("rejected", "applied", 2),
        ("rejected", "applied", 2),
        ("undecodable", "failed", 3),
    ]


async def test_a_replayed_letter_whose_event_was_applied_meanwhile_is_a_duplicate(
    kit: Kit, eventually
) -> None:
    event = envelope("denied")
    await kit.send(event)
    metrics = Metrics.create("rt")

    async with running(kit.inbox(metrics)):
        await eventually(kit.all_committed, "the event dead-lettered")
        # The event arrives again (a republish, say) after the cause was fixed.
        await kit.pool.execute("DELETE FROM denied")
        await kit.send(event)
        await eventually(kit.all_committed, "the copy applied")
        async with kit.pool.acquire() as conn:
            asked = await deadletters.request_replay(conn, NAME, None)

        async def outcomes() -> dict[str, int]:
            async with kit.pool.acquire() as conn:
                return await deadletters.replay_progress(conn, asked)

        await eventually(lambda: _settled(outcomes), "the replay done")
        assert await outcomes() == {"duplicate": 1}

    assert [e for e, _ in await kit.effects()] == [event.event_id]


async def _settled(outcomes) -> bool:  # type: ignore[no-untyped-def]
    return "waiting" not in await outcomes()
