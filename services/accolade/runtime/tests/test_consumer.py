"""The inbox consumer on a real broker and PostgreSQL: exactly-once effects, dead letters."""

from __future__ import annotations

import collections

from accolade.runtime.metrics import Metrics
from accolade.runtime.tests.kit import (
    NAME,
    CrashesBeforeCommit,
    Kit,
    envelope,
    relaying,
    running,
    samples,
    total,
)
from accolade.v1 import envelope_pb2, events_pb2


async def test_each_event_applies_once_despite_duplicates_and_a_crash_before_commit(
    kit: Kit, eventually
) -> None:
    events = [envelope(f"a{i}") for i in range(4)]
    shouting = envelope_pb2.Envelope()
    shouting.CopyFrom(events[1])
    shouting.event_id = events[1].event_id.upper()  # the same id, written differently
    # Another tenant may use the same event id for an event of its own.
    other_tenant = envelope_pb2.Envelope()
    other_tenant.CopyFrom(events[0])
    other_tenant.tenant_id = "globex"
    for e in [*events, events[0], shouting, other_tenant]:
        await kit.send(e)
    crashed = Metrics.create("rt")

    async with running(kit.inbox(crashed, CrashesBeforeCommit)):
        await eventually(lambda: total(crashed, "events_consumed") == 7, "all seven read")

    assert total(crashed, "events_applied") == 5
    assert total(crashed, "events_duplicate") == 2
    # No offset was committed, so the restarted consumer is given everything again. It joins
    # a group as fresh as the crashed one left its own: a new member of that very group
    # would first wait out the crashed member's session on the embedded broker (~18 s).
    late = envelope("a5")
    await kit.send(late)
    await kit.send(events[2])
    kit.group = f"{kit.group}.restarted"
    restarted = Metrics.create("rt")
    async with running(kit.inbox(restarted)):
        await eventually(lambda: total(restarted, "events_consumed") == 9, "all nine read")
        await eventually(kit.all_committed, "offsets committed up to the end of the log")

    assert total(restarted, "events_applied") == 1
    assert total(restarted, "events_duplicate") == 8
    applied = collections.Counter(event_id for event_id, _ in await kit.effects())
    assert applied == {e.event_id: 1 for e in [*events, late]}
    elsewhere = await kit.pool.fetch("SELECT event_id FROM effects WHERE tenant_id = 'globex'")
    assert [r["event_id"] for r in elsewhere] == [events[0].event_id]
    inbox = await kit.pool.fetchval("SELECT count(*) FROM applied_events WHERE consumer = $1", NAME)
    assert inbox == 6


async def test_an_event_on_another_topic_with_the_same_id_is_another_event(
    kit: Kit, eventually
) -> None:
    interaction = envelope("a1")
    # A survey tool reusing the interaction's UUID as its survey id, say.
    survey = envelope_pb2.Envelope(
        event_id=interaction.event_id,
        tenant_id="acme",
        agent_id="a1",
        survey_submitted=events_pb2.SurveySubmitted(
            survey_id=interaction.event_id, interaction_id="i-1", csat=5
        ),
    )
    survey.occurred_at.GetCurrentTime()
    await kit.send(interaction)
    await kit.send(survey, kit.other_topic)
    await kit.send(survey, kit.other_topic)  # and its copy, which is a duplicate
    metrics = Metrics.create("rt")

    async with running(kit.inbox(metrics)):
        await eventually(kit.all_committed, "both topics consumed and committed")

    rows = await kit.pool.fetch("SELECT event_id, topic FROM effects ORDER BY topic")
    assert [(r["event_id"], r["topic"]) for r in rows] == [
        (interaction.event_id, "interaction_completed"),
        (interaction.event_id, "survey_submitted"),
    ]
    assert samples(metrics, "events_applied") == {(kit.topic,): 1, (kit.other_topic,): 1}
    assert samples(metrics, "events_duplicate") == {(kit.other_topic,): 1}


async def test_bad_messages_are_dead_lettered_alone_and_a_failing_batch_commits_nothing(
    kit: Kit, eventually, read_topic
) -> None:
    no_payload, bad_id = envelope("a1"), envelope("a1")
    no_payload.ClearField("interaction_completed")
    bad_id.event_id = "nope"
    good, denied, stranger, gated, after = (
        envelope("a1"),
        envelope("denied"),
        envelope("stranger"),  # not in agents: the batch's INSERT breaks a foreign key
        envelope("gated"),
        envelope("a2"),
    )
    messages = {
        "garbage": b"not a protobuf",
        "no payload": no_payload,
        "bad id": bad_id,
        "good": good,
        "denied": denied,
        "stranger": stranger,
        "gated": gated,
        "after": after,
    }
    await kit.pool.execute("UPDATE gate SET open = false")
    # One partition, so the log holds the messages in this order.
    offsets = dict(zip(messages, await kit.send_together(list(messages.values())), strict=True))
    metrics = Metrics.create("rt")

    async with relaying(kit), running(kit.inbox(metrics)):
        await eventually(
            lambda: total(metrics, "events_consumed") >= 2 * len(messages), "two failed tries"
        )
        # Nothing of the failing batch is applied, dead-lettered or committed.
        assert await kit.effects() == []
        assert await kit.pool.fetchval("SELECT count(*) FROM applied_events") == 0
        assert await kit.pool.fetchval("SELECT count(*) FROM dead_letters") == 0
        assert await kit.committed() == {(kit.topic, 0): 0}
        assert total(metrics, "events_applied") == 0
        assert total(metrics, "effects") == 0
        assert samples(metrics, "consumer_retries") == {
            (NAME, "conflict"): total(metrics, "consumer_retries")
        }

        await kit.pool.execute("UPDATE gate SET open = true")
        await eventually(kit.all_committed, "the batch applied and its offsets committed")
        await eventually(
            lambda: read_topic(kit.settings.kafka_bootstrap, kit.dead_letter_topic),
            "the letters published",
        )

    assert sorted(await kit.effects()) == sorted(
        [(good.event_id, "a1"), (gated.event_id, "gated"), (after.event_id, "a2")]
    )
    # Counted once, though the batch was tried several times.
    assert total(metrics, "events_applied") == 3
    assert total(metrics, "effects") == 3
    letters = await read_topic(kit.settings.kafka_bootstrap, kit.dead_letter_topic)
    headers = {int(dict(r.headers)["source_offset"]): dict(r.headers) for r in letters}
    rejected = ["garbage", "no payload", "bad id", "denied", "stranger"]
    assert len(letters) == len(rejected)  # each once, though its batch was tried several times
    assert sorted(headers) == sorted(offsets[label] for label in rejected)
    reason = {label: headers[offsets[label]]["reason"].decode() for label in rejected}
    assert reason["garbage"].startswith("undecodable: ")
    assert reason["no payload"].startswith("unknown payload: ")
    assert reason["bad id"] == "invalid envelope: event_id 'nope' is not a UUID"
    assert reason["denied"] == "agent denied is on the deny list"
    assert reason["stranger"].startswith("handler failed: ForeignKeyViolationError")
    garbage = next(r for r in letters if r.value == b"not a protobuf")
    assert garbage.key == b"acme/a1"
    assert headers[offsets["garbage"]]["source_topic"] == kit.topic.encode()
    assert headers[offsets["garbage"]]["consumer"] == NAME.encode()
    assert samples(metrics, "dead_lettered_messages") == {
        (kit.topic, "undecodable"): 1,
        (kit.topic, "unknown_payload"): 1,
        (kit.topic, "invalid"): 1,
        (kit.topic, "rejected"): 1,
        (kit.topic, "handler_error"): 1,
    }
    # The letters are kept in PostgreSQL too, and the rejected events are not in the inbox,
    # so a replay can still apply them.
    kept = await kit.pool.fetch(
        "SELECT source_offset, kind, event_id::text FROM dead_letters ORDER BY source_offset"
    )
    assert [(r["source_offset"], r["kind"]) for r in kept] == sorted(
        (offsets[label], headers[offsets[label]]["kind"].decode()) for label in rejected
    )
    inbox = {r[0] for r in await kit.pool.fetch("SELECT event_id::text FROM applied_events")}
    assert inbox == {good.event_id, gated.event_id, after.event_id}


async def test_a_bad_event_in_a_large_batch_is_found_and_the_rest_applied_in_one_go(
    kit: Kit, eventually
) -> None:
    batch = [envelope(f"a{i % 5}") for i in range(300)]
    strangers = {37, 38, 251}
    for i in strangers:
        batch[i] = envelope("stranger")
    await kit.send_together(list(batch))
    metrics = Metrics.create("rt")

    async with running(kit.inbox(metrics)):
        await eventually(kit.all_committed, "the batch applied and its offsets committed")

    applied = {event_id for event_id, _ in await kit.effects()}
    assert applied == {e.event_id for i, e in enumerate(batch) if i not in strangers}
    assert samples(metrics, "dead_lettered_messages") == {(kit.topic, "handler_error"): 3}
    letters = await kit.pool.fetch("SELECT event_id::text FROM dead_letters")
    assert {r[0] for r in letters} == {batch[i].event_id for i in strangers}
