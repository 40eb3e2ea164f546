"""The bench's board phase: a leaderboard of a million agents, read while it changes.

Writes a board of `agents` scores (few distinct values, so ties are common) straight into
the leaderboards' table, as a day of activity would leave it, then reads its top 10 and
agents' own ranks one call after another while PublishEvents moves the board at `rate`
events/s, each a resolved interaction of a random agent of the board. Reports each
query's latency, how long the first read took (the index loading the board), the memory
the index takes per million entries, and checks the top of the board against
PostgreSQL's own ranking once every update is applied.
"""

from __future__ import annotations

import asyncio
import gc
import json
import random
import statistics
import sys
import time
import tracemalloc
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from accolade.leaderboards._rank import RankIndex
from accolade.v1 import leaderboards_service_pb2 as pb
from tests.platform import Platform, counter, interaction

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchkit import memory_mb, percentile, steady_load  # beside this script

BOARD = "daily-resolutions"


def _ms(values: list[float], q: float) -> float:
    return round(percentile(values, q) * 1000, 2)


def index_alone(scores: list[tuple[str, float]]) -> dict[str, float]:
    """A RankIndex of `scores` in this process: the memory it holds (as tracemalloc counts
    it) per million entries, and the microseconds an update, a rank and a top 10 take."""
    gc.collect()
    tracemalloc.start()
    try:
        index = RankIndex()
        index.load(scores)
        used, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    rng = random.Random(11)  # noqa: S311 - a repeatable sample, not a secret
    agents = [scores[rng.randrange(len(scores))][0] for _ in range(20_000)]

    def per_op(op: Any) -> float:
        t = time.perf_counter()
        for a in agents:
            op(a)
        return round((time.perf_counter() - t) / len(agents) * 1e6, 1)

    return {
        "index_mb_per_million": round(used / 2**20 / (len(scores) / 1e6), 1),
        "index_update_us": per_op(lambda a: index.set(a, index.score(a) + 1)),  # type: ignore[operator]
        "index_rank_us": per_op(index.rank),
        "index_top10_us": per_op(lambda _: index.entries(0, 10)),
    }


async def board(
    platform: Platform, database_url: str, pid: int, agents: int, rate: int, calls: int
) -> dict[str, Any]:
    tenant = f"board-{uuid.uuid4().hex[:6]}"
    await platform.add_tenant(tenant)
    # The interactions the bench sends happen a few minutes ago: their UTC day is the board's.
    day = (datetime.now(UTC) - timedelta(minutes=3)).date()
    rng = random.Random(7)  # noqa: S311 - a repeatable board, not a secret
    names = [f"m-{i:07d}" for i in range(agents)]
    scores = [(a, float(rng.randrange(200))) for a in names]
    conn = await asyncpg.connect(database_url)
    try:
        await conn.copy_records_to_table(
            "period_scores",
            schema_name="leaderboards",
            columns=("tenant_id", "board_id", "period", "agent_id", "score"),
            records=((tenant, BOARD, day, a, s) for a, s in scores),
        )
    finally:
        await conn.close()
    stub = platform.leaderboards
    rss0 = memory_mb(pid)
    t = time.perf_counter()
    await stub.GetLeaderboard(pb.GetLeaderboardRequest(tenant_id=tenant, day=day.isoformat()))
    first_read = time.perf_counter() - t
    rss1 = memory_mb(pid)

    applied = "accolade_leaderboards_events_applied_total"
    before = counter(platform.metrics("leaderboards"), applied)
    stop = asyncio.Event()

    def batch(n: int) -> list[Any]:
        return [interaction(tenant, names[rng.randrange(agents)]) for _ in range(n)]

    started = time.perf_counter()
    load = asyncio.create_task(steady_load(platform.publish, batch, rate, stop))
    try:
        await asyncio.sleep(2)  # the load is steady before the first read
        # The reads come from a process of their own, so that what they measure is the
        # service, not this process's event loop busy making the load.
        reader = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            f"127.0.0.1:{platform.endpoints['leaderboards'].grpc_port}",
            platform.admin_keys[tenant],
            tenant,
            day.isoformat(),
            str(calls),
            str(agents),
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await reader.communicate()
        if reader.returncode != 0:
            raise RuntimeError(f"the board reader failed ({reader.returncode})")
        top10, ranks = json.loads(out)
    finally:
        stop.set()
        sent = await load
    elapsed = time.perf_counter() - started
    # Once every update is applied, the index's top equals PostgreSQL's own ranking.
    deadline = time.perf_counter() + 120
    while counter(platform.metrics("leaderboards"), applied) < before + sent:
        if time.perf_counter() > deadline:
            raise TimeoutError("the board's updates were not all applied in 120 s")
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.1)  # applied counts after the commit; the index takes it then
    got = await stub.GetLeaderboard(
        pb.GetLeaderboardRequest(tenant_id=tenant, day=day.isoformat(), limit=100)
    )
    conn = await asyncpg.connect(database_url)
    try:
        expected = await conn.fetch(
            "SELECT rank() OVER (ORDER BY score DESC)::int, agent_id, score "
            "FROM leaderboards.period_scores WHERE tenant_id = $1 AND board_id = $2 "
            'AND period = $3 ORDER BY score DESC, agent_id COLLATE "C" LIMIT 100',
            tenant,
            BOARD,
            day,
        )
    finally:
        await conn.close()
    if [(e.rank, e.agent_id, e.score) for e in got.entries] != [tuple(r) for r in expected]:
        raise AssertionError("the index's top 100 differs from PostgreSQL's ranking")
    if got.total_agents != agents:
        raise AssertionError(f"the board holds {got.total_agents} agents, not {agents}")
    return {
        "agents": agents,
        "updates_per_s": round(sent / elapsed),
        "calls": calls,
        "first_read_seconds": round(first_read, 2),
        "top10_p50_ms": _ms(top10, 0.5),
        "top10_p99_ms": _ms(top10, 0.99),
        "rank_p50_ms": _ms(ranks, 0.5),
        "rank_p99_ms": _ms(ranks, 0.99),
        **index_alone(scores),
        "service_rss_mb": {"before": rss0, "loaded": rss1, "after": memory_mb(pid)},
        "median_call_ms": round(statistics.median(top10 + ranks) * 1000, 2),
    }


def _read(address: str, key: str, tenant: str, day: str, calls: int, agents: int) -> None:
    """Reads the board's top 10 and agents' ranks, one call after another; prints the
    latencies (seconds) of each kind as JSON."""
    import grpc

    from accolade.clients import bearer
    from accolade.v1 import leaderboards_service_pb2_grpc as pb_grpc

    top10: list[float] = []
    ranks: list[float] = []
    with grpc.insecure_channel(address) as channel:
        stub = pb_grpc.LeaderboardsServiceStub(channel)
        metadata = bearer(key)
        for i in range(calls):
            t = time.perf_counter()
            stub.GetLeaderboard(
                pb.GetLeaderboardRequest(tenant_id=tenant, day=day, limit=10), metadata=metadata
            )
            top10.append(time.perf_counter() - t)
            agent = f"m-{(i * 7919) % agents:07d}"
            t = time.perf_counter()
            stub.GetAgentRank(
                pb.GetAgentRankRequest(tenant_id=tenant, agent_id=agent, day=day),
                metadata=metadata,
            )
            ranks.append(time.perf_counter() - t)
    print(json.dumps([top10, ranks]))


if __name__ == "__main__":
    address, key, tenant, day, calls, agents = sys.argv[1:7]
    _read(address, key, tenant, day, int(calls), int(agents))
