"""Group commit on a real PostgreSQL: calls share transactions, each answered once durable."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import asyncpg
import pytest

from accolade.runtime.groupcommit import GroupCommit

TABLE = "CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL CHECK (body <> 'bad'))"


async def test_concurrent_calls_share_transactions_and_are_answered_once_durable(
    runtime_pool: asyncpg.Pool, database_url: str
) -> None:
    await runtime_pool.execute(TABLE)
    groups: list[int] = []
    observer = await asyncpg.create_pool(database_url, server_settings={"search_path": "rt"})

    async def flush(conn: asyncpg.Connection, items: Sequence[int]) -> list[int]:
        await conn.execute(
            "INSERT INTO notes SELECT i, 'note ' || i FROM unnest($1::int[]) i", list(items)
        )
        await asyncio.sleep(0.02)  # a slow commit, so that callers pile up behind it
        return [i * 10 for i in items]

    commits = GroupCommit(runtime_pool, flush, observe=groups.append)

    async def call(i: int) -> tuple[int, bool]:
        answer = await commits.submit(i)
        # Answered only once durable: another session sees the row at once.
        seen = await observer.fetchval("SELECT body FROM notes WHERE id = $1", i)
        return answer, seen == f"note {i}"

    try:
        answers = await asyncio.gather(*(call(i) for i in range(64)))
    finally:
        await observer.close()
    assert answers == [(i * 10, True) for i in range(64)]
    assert sum(groups) == 64
    assert len(groups) < 16, groups  # shared: far fewer transactions than calls


async def test_a_call_whose_data_fails_the_shared_transaction_fails_alone(
    runtime_pool: asyncpg.Pool,
) -> None:
    await runtime_pool.execute(TABLE)

    async def flush(conn: asyncpg.Connection, items: Sequence[tuple[int, str]]) -> list[int]:
        await conn.execute(
            "INSERT INTO notes SELECT * FROM unnest($1::int[], $2::text[])",
            [i for i, _ in items],
            [b for _, b in items],
        )
        return [i for i, _ in items]

    commits: GroupCommit[tuple[int, str], int] = GroupCommit(runtime_pool, flush, gather=0.05)
    # The first call commits alone; the others queue behind it and then share one.
    first = asyncio.create_task(commits.submit((0, "first")))
    await asyncio.sleep(0)
    calls = [commits.submit((i, "bad" if i == 3 else f"note {i}")) for i in range(1, 6)]
    results = await asyncio.gather(first, *calls, return_exceptions=True)

    assert results[:3] == [0, 1, 2] and results[4:] == [4, 5]
    assert isinstance(results[3], asyncpg.CheckViolationError)
    stored = await runtime_pool.fetch("SELECT id FROM notes ORDER BY id")
    assert [r["id"] for r in stored] == [0, 1, 2, 4, 5]


async def test_a_caller_that_goes_away_does_not_undo_the_others(runtime_pool: asyncpg.Pool) -> None:
    await runtime_pool.execute(TABLE)
    started = asyncio.Event()

    async def flush(conn: asyncpg.Connection, items: Sequence[int]) -> list[int]:
        started.set()
        await asyncio.sleep(0.05)
        await conn.execute("INSERT INTO notes SELECT i, 'x' FROM unnest($1::int[]) i", list(items))
        return list(items)

    commits = GroupCommit(runtime_pool, flush)
    leaving = asyncio.create_task(commits.submit(1))
    await started.wait()
    staying = asyncio.create_task(commits.submit(2))
    leaving.cancel()  # its client hung up while its transaction ran
    with pytest.raises(asyncio.CancelledError):
        await leaving
    assert await staying == 2
    stored = await runtime_pool.fetch("SELECT id FROM notes ORDER BY id")
    assert [r["id"] for r in stored] == [1, 2]
