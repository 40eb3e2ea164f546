"""Faults of the environment are retried, never dead-lettered; faults of the data are."""

from __future__ import annotations

import logging
from collections.abc import Callable

import asyncpg

from accolade.runtime.faults import environment_fault
from accolade.runtime.metrics import Metrics
from accolade.runtime.tests.kit import NAME, SCHEMA, Kit, envelope, running, samples, total
from accolade.testing import fail_over, holding

# What a real PostgreSQL answers in trouble, raised by the gate with that SQLSTATE.
SERVER_TROUBLE = [
    ("query_canceled", "timeout"),
    ("admin_shutdown", "interrupted"),
    ("read_only_sql_transaction", "read_only"),
    ("disk_full", "resources"),
    ("out_of_memory", "resources"),
    ("too_many_connections", "resources"),
    ("serialization_failure", "conflict"),
    ("deadlock_detected", "conflict"),
    ("lock_not_available", "conflict"),
    ("io_error", "system"),
    ("undefined_table", "schema"),
]
# What a real PostgreSQL answers when the data is at fault.
DATA_TROUBLE = [
    "foreign_key_violation",
    "check_violation",
    "unique_violation",
    "numeric_value_out_of_range",
    "invalid_text_representation",
    "raise_exception",
]


async def error_for(conn: asyncpg.Connection, errcode: str) -> asyncpg.PostgresError:
    try:
        await conn.execute(f"DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = '{errcode}'; END $$")
    except asyncpg.PostgresError as exc:
        return exc
    raise AssertionError("no error raised")


async def test_the_server_says_whose_fault_an_error_is(runtime_pool: asyncpg.Pool) -> None:
    async with runtime_pool.acquire() as conn:
        for errcode, reason in SERVER_TROUBLE:
            assert environment_fault(await error_for(conn, errcode)) == reason, errcode
        for errcode in DATA_TROUBLE:
            assert environment_fault(await error_for(conn, errcode)) is None, errcode
    assert environment_fault(ConnectionResetError()) == "connection"
    assert environment_fault(TimeoutError()) == "timeout"
    assert environment_fault(KeyError("a bug")) is None


async def assert_retried_then_applied(
    kit: Kit, metrics: Metrics, sent: list[str], reasons: set[str], eventually, caplog
) -> None:
    """Nothing dead-lettered; each event applied once; retried for one of `reasons`, and logged."""
    await eventually(kit.all_committed, "every event applied and committed", within=30)
    applied = [event_id for event_id, _ in await kit.effects()]
    assert sorted(applied) == sorted(sent)
    assert await kit.pool.fetchval("SELECT count(*) FROM dead_letters") == 0
    assert total(metrics, "dead_lettered_messages") == 0
    retried = {reason for _, reason in samples(metrics, "consumer_retries")}
    assert retried & reasons, retried
    logged = {
        r.reason  # type: ignore[attr-defined]
        for r in caplog.records
        if r.getMessage() == "batch failed on the environment; retrying"
    }
    assert logged == retried


def retried(metrics: Metrics, reason: str, times: float) -> Callable[[], bool]:
    """Whether the consumer retried for `reason` at least `times` times."""
    return lambda: samples(metrics, "consumer_retries").get((NAME, reason), 0) >= times


async def test_every_error_of_the_server_is_retried_not_dead_lettered(
    kit: Kit, eventually, caplog
) -> None:
    caplog.set_level(logging.WARNING, "accolade.runtime.consumer")
    metrics = Metrics.create("rt")
    sent: list[str] = []
    # One consumer for every case: a group join costs seconds on the embedded broker.
    async with running(kit.inbox(metrics)):
        for errcode, reason in SERVER_TROUBLE:
            before = samples(metrics, "consumer_retries").get((NAME, reason), 0)
            await kit.pool.execute("UPDATE gate SET open = false, errcode = $1", errcode)
            events = [envelope("a1"), envelope("gated"), envelope("a2")]
            await kit.send_together(list(events))
            await eventually(retried(metrics, reason, before + 2), f"two tries on {errcode}")
            assert sorted(e for e, _ in await kit.effects()) == sorted(sent), errcode
            await kit.pool.execute("UPDATE gate SET open = true")
            sent += [e.event_id for e in events]
            await eventually(kit.all_committed, f"applied after {errcode}")
        await assert_retried_then_applied(
            kit, metrics, sent, {r for _, r in SERVER_TROUBLE}, eventually, caplog
        )
    assert {r for _, r in samples(metrics, "consumer_retries")} == {r for _, r in SERVER_TROUBLE}


async def test_a_statement_timeout_is_retried_not_dead_lettered(
    kit: Kit, database_url: str, eventually, caplog
) -> None:
    caplog.set_level(logging.WARNING, "accolade.runtime.consumer")
    # A pool configured with a statement timeout, as operators configure them.
    impatient = await asyncpg.create_pool(
        database_url,
        min_size=0,
        server_settings={"search_path": SCHEMA, "statement_timeout": "200"},
    )
    events = [envelope("a1"), envelope("a2")]
    metrics = Metrics.create("rt")
    try:
        inbox = kit.inbox(metrics, pool=impatient)
        await kit.send_together(list(events))
        async with running(inbox):
            # Someone holds the table the handler writes: its INSERT waits until canceled.
            async with holding(database_url, f"{SCHEMA}.effects"):
                await eventually(lambda: total(metrics, "consumer_retries") >= 2, "two timeouts")
            await assert_retried_then_applied(
                kit, metrics, [e.event_id for e in events], {"timeout"}, eventually, caplog
            )
    finally:
        await impatient.close()


async def test_a_database_gone_read_only_in_a_failover_is_waited_out(
    kit: Kit, infra, database_url: str, eventually, caplog
) -> None:
    caplog.set_level(logging.WARNING, "accolade.runtime.consumer")
    database = database_url.partition("?")[0].rsplit("/", 1)[-1]
    admin = await asyncpg.connect(infra.database_url)

    events = [envelope("a1"), envelope("a2"), envelope("a3")]
    metrics = Metrics.create("rt")
    inbox = kit.inbox(metrics)
    try:
        async with running(inbox):
            await kit.send(events[0])
            await eventually(kit.all_committed, "the first event applied")
            await fail_over(admin, database, read_only=True)
            for e in events[1:]:
                await kit.send(e)
            await eventually(
                lambda: samples(metrics, "consumer_retries").get((inbox.name, "read_only"), 0) >= 2,
                "two tries on the read-only database",
            )
            await fail_over(admin, database, read_only=False)
            await assert_retried_then_applied(
                kit,
                metrics,
                [e.event_id for e in events],
                {"read_only"},
                eventually,
                caplog,
            )
    finally:
        await admin.execute(f'ALTER DATABASE "{database}" RESET default_transaction_read_only')
        await admin.close()


async def test_a_connection_dropped_mid_batch_is_retried(
    kit: Kit, database_url: str, eventually, caplog
) -> None:
    caplog.set_level(logging.WARNING, "accolade.runtime.consumer")
    events = [envelope("a1"), envelope("a2")]
    metrics = Metrics.create("rt")
    await kit.send_together(list(events))
    async with running(kit.inbox(metrics)):
        async with holding(database_url, f"{SCHEMA}.effects") as blocker:
            # The batch waits on the lock, inside its transaction; its connection is cut.
            waiting = await wait_for_lock_waiter(blocker, eventually)
            await blocker.fetchval("SELECT pg_terminate_backend($1)", waiting)
        # Cut while waiting, the session ends with "terminating connection due to
        # administrator command" (an interruption), or the next use finds it closed.
        await assert_retried_then_applied(
            kit,
            metrics,
            [e.event_id for e in events],
            {"connection", "interrupted"},
            eventually,
            caplog,
        )


async def wait_for_lock_waiter(conn: asyncpg.Connection, eventually) -> int:  # type: ignore[no-untyped-def]
    """The pid of a backend of this database waiting for a lock."""
    found: list[int] = []

    async def waiter() -> bool:
        # Inside a transaction the activity view is a snapshot taken once; take a new one.
        await conn.execute("SELECT pg_stat_clear_snapshot()")
        pid = await conn.fetchval(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' LIMIT 1"
        )
        if pid is not None:
            found.append(pid)
        return pid is not None

    await eventually(waiter, "a batch waiting on the lock")
    return found[-1]
