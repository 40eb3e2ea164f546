"""Storing facts once per key: new ones published, resends and reused keys told apart."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg

from accolade.runtime.storeonce import Stored, StoreOnce

TABLE = """
    CREATE TABLE facts (tenant_id text NOT NULL, fact_id uuid NOT NULL, body text NOT NULL,
                        PRIMARY KEY (fact_id, tenant_id))
"""
FACTS = StoreOnce(
    "facts",
    [("tenant_id", "text"), ("fact_id", "uuid"), ("body", "text")],
    key=("tenant_id", "fact_id"),
    compare=["body"],
)


def events(rows: list[tuple[str, str, str]]) -> list[tuple[bytes, bytes]]:
    return [(f"{t}/a".encode(), b.encode()) for t, _, b in rows]


async def published(pool: asyncpg.Pool) -> list[tuple[str, bytes]]:
    rows = await pool.fetch("SELECT event_id::text, payload FROM outbox ORDER BY id")
    return [(r[0], r[1]) for r in rows]


async def test_new_facts_are_stored_and_published_once_and_copies_are_told_apart(
    runtime_pool: asyncpg.Pool,
) -> None:
    await runtime_pool.execute(TABLE)
    a, b, c = (str(uuid.uuid4()) for _ in range(3))
    first = [("acme", a, "hello"), ("acme", b, "world"), ("acme", a, "hello"), ("acme", a, "other")]
    async with runtime_pool.acquire() as conn:
        found = await FACTS.store(conn, first, events(first), "t")
        # Later: a resend, the same id with other content, the same id in another tenant.
        later = [
            ("acme", b, "world"),
            ("acme", b, "changed"),
            ("globex", b, "world"),
            ("acme", c, "new"),
        ]
        again = await FACTS.store(conn, later, events(later), "t")

    assert found == [
        Stored(True, ("hello",)),
        Stored(True, ("world",)),
        Stored(False, ("hello",)),  # a copy in the same call
        Stored(False, ("hello",)),  # the id reused within the call: what is kept differs
    ]
    assert again == [
        Stored(False, ("world",)),
        Stored(False, ("world",)),
        Stored(True, ("world",)),
        Stored(True, ("new",)),
    ]
    assert await published(runtime_pool) == [
        (a, b"hello"),
        (b, b"world"),
        (b, b"world"),
        (c, b"new"),
    ]
    assert await runtime_pool.fetchval("SELECT count(*) FROM facts") == 4


async def test_a_fact_stored_by_a_concurrent_transaction_is_a_copy_of_it(
    runtime_pool: asyncpg.Pool, database_url: str, eventually
) -> None:
    await runtime_pool.execute(TABLE)
    fact = str(uuid.uuid4())
    other = await asyncpg.connect(database_url, server_settings={"search_path": "rt"})
    try:
        # Another replica's transaction stores the fact and commits while this call's
        # statement waits on it: the statement's snapshot predates that row.
        racing = other.transaction()
        await racing.start()
        await other.execute("INSERT INTO facts VALUES ('acme', $1, 'theirs')", fact)
        rows = [("acme", fact, "theirs"), ("acme", fact, "mine")]
        async with runtime_pool.acquire() as conn:
            storing = asyncio.create_task(FACTS.store(conn, rows, events(rows), "t"))

            async def waiting() -> bool:
                # Inside a transaction the activity view is a snapshot; take a new one.
                await other.execute("SELECT pg_stat_clear_snapshot()")
                return bool(
                    await other.fetchval(
                        "SELECT EXISTS (SELECT FROM pg_stat_activity "
                        "WHERE datname = current_database() AND wait_event_type = 'Lock')"
                    )
                )

            await eventually(waiting, "the statement waiting on the other transaction")
            await racing.commit()
            found = await storing
    finally:
        await other.close()
    assert found == [Stored(False, ("theirs",)), Stored(False, ("theirs",))]
    assert await published(runtime_pool) == []
