"""Measures intake throughput and end-to-end processing on a locally started platform.

Starts its own embedded PostgreSQL and broker and the five services (as `accolade up`
does) on free ports, sends interactions through the gateway in batches, and reports:
intake rate (events made durable per second), and how long until the leaderboards,
challenges and achievements services have applied all of them.

Usage: .venv/bin/python scripts/bench.py [--events 20000] [--batch 500] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from accolade.local.embedded import EmbeddedBroker, EmbeddedPostgres
from tests.platform import Platform, interaction


async def bench(events: int, batch: int, concurrency: int) -> None:
    with tempfile.TemporaryDirectory(prefix="accolade-bench-") as tmp:
        postgres = EmbeddedPostgres(Path(tmp) / "pg")
        broker = EmbeddedBroker()
        postgres.start()
        broker.start()
        platform = Platform(postgres.url, broker.bootstrap, "bench", Path(tmp))
        try:
            started = time.monotonic()
            await platform.start()
            print(f"platform SERVING in {time.monotonic() - started:.1f}s")
            tenant = f"bench-{uuid.uuid4().hex[:6]}"
            agents = [f"agent-{i:03d}" for i in range(200)]
            batches = [
                [interaction(tenant, agents[(b * batch + i) % len(agents)]) for i in range(batch)]
                for b in range(events // batch)
            ]
            latencies: list[float] = []
            queue: asyncio.Queue[list] = asyncio.Queue()  # type: ignore[type-arg]
            for b in batches:
                queue.put_nowait(b)

            async def worker() -> None:
                while not queue.empty():
                    b = queue.get_nowait()
                    t = time.perf_counter()
                    await platform.publish(b)
                    latencies.append(time.perf_counter() - t)

            t0 = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            intake = time.perf_counter() - t0
            total = len(batches) * batch
            print(
                f"intake: {total} events in {intake:.2f}s = {total / intake:,.0f} events/s "
                f"(batches of {batch}, {concurrency} concurrent; per batch p50 "
                f"{statistics.median(latencies) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms)"
            )
            conn = await asyncpg.connect(postgres.url)
            try:
                for schema in ("leaderboards", "challenges", "achievements"):
                    while True:
                        applied = await conn.fetchval(
                            f"SELECT count(*) FROM {schema}.applied_events WHERE tenant_id = $1",  # noqa: S608 - fixed names
                            tenant,
                        )
                        if applied >= total:
                            break
                        await asyncio.sleep(0.1)
                    done = time.perf_counter() - t0
                    print(
                        f"{schema}: all {total} applied {done:.2f}s after the first send "
                        f"= {total / done:,.0f} events/s end to end"
                    )
            finally:
                await conn.close()
        finally:
            await platform.close()
            broker.stop()
            postgres.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    asyncio.run(bench(args.events, args.batch, args.concurrency))


if __name__ == "__main__":
    main()
