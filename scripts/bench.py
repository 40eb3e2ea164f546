"""Measures the event path end to end on a locally started platform.

Starts its own embedded PostgreSQL and broker and the five services as processes (as
`accolade up` does), all on this machine, applies the whole starter program to every
tenant it sends as (so achievements evaluates 28 badges), then measures in turn:

1. batches: events sent through PublishEvents in batches, concurrently; how fast intake
   makes them durable, and how long until every consumer has applied all of them (the
   slowest one counts); the CPU each process spent per event; and the state checked
   against what was sent (badges against the rules engine's in-memory reference);
2. unary: one-event PublishEvents calls, then one-event SubmitSurvey calls, from many
   concurrent clients: calls per second and latency;
3. notify: under a steady background load, the time from a PublishEvents answer to the
   badge it earns arriving on the agent's WatchAgent stream, split at the award's
   recorded_at (when achievements made it durable), and the CPU each process spent per
   event of that load;
4. board: a leaderboard of a million agents (scripts/bench_board.py): its top 10 and
   agents' own ranks, read while PublishEvents moves it 2,000 times a second.

Prints a table; `--json FILE` also writes the figures as JSON.

Usage: .venv/bin/python scripts/bench.py [--events 50000] [--batch 500] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import platform as host
import resource
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import grpc
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from accolade import programs
from accolade.clients import bearer
from accolade.local.embedded import EmbeddedBroker, EmbeddedPostgres
from accolade.rules.calendar import Calendar
from accolade.rules.definitions import compile_badge
from accolade.rules.evaluate import Program
from accolade.rules.memory import MemoryState
from accolade.v1 import (
    feedback_service_pb2,
    feedback_service_pb2_grpc,
    gateway_service_pb2,
    gateway_service_pb2_grpc,
)
from tests.platform import Platform, counter, interaction

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_board  # beside this script
from benchkit import memory_mb, percentile, steady_load

CONSUMERS = ("leaderboards", "challenges", "achievements")
ACCEPTED = gateway_service_pb2.EVENT_STATUS_ACCEPTED


@dataclasses.dataclass
class Processes:
    """CPU time and peak memory of every process of the platform, by name."""

    services: dict[str, int]
    postgres: int  # the postmaster's pid
    broker: int

    def cpu(self) -> dict[str, float]:
        """Seconds of CPU used so far by each service, PostgreSQL, the broker and this process."""
        out = {name: _cpu(psutil.Process(pid)) for name, pid in self.services.items()}
        postmaster = psutil.Process(self.postgres)
        # Backends that exited were reaped by the postmaster, which keeps their CPU time.
        times = postmaster.cpu_times()
        out["postgres"] = _cpu(postmaster) + times.children_user + times.children_system
        for child in postmaster.children(recursive=True):
            with contextlib.suppress(psutil.NoSuchProcess):
                out["postgres"] += _cpu(child)
        out["broker"] = _cpu(psutil.Process(self.broker))
        usage = resource.getrusage(resource.RUSAGE_SELF)
        out["load_generator"] = usage.ru_utime + usage.ru_stime
        return out

    def peak_rss_mb(self) -> dict[str, float]:
        """The peak resident memory of each service process, in MiB."""
        return {name: memory_mb(pid, "VmHWM") for name, pid in self.services.items()}


def _cpu(p: psutil.Process) -> float:
    t = p.cpu_times()
    return float(t.user + t.system)


def _per_event(before: dict[str, float], after: dict[str, float], events: int) -> dict[str, float]:
    return {k: round((after[k] - before[k]) / events * 1e6, 1) for k in before}


def _means(
    before: dict[str, tuple[float, float]], after: dict[str, tuple[float, float]]
) -> dict[str, float]:
    """Mean consumer batch (messages) and commit group (calls) over a phase, by what."""
    out = {}
    for what, (total, count) in after.items():
        n = count - before[what][1]
        if n:
            out[what] = round((total - before[what][0]) / n, 1)
    return out


class Bench:
    """One platform under measurement."""

    def __init__(self, platform: Platform, procs: Processes, database_url: str) -> None:
        self.platform = platform
        self.procs = procs
        self.database_url = database_url
        self.agents = [f"agent-{i:03d}" for i in range(200)]

    def averages(self) -> dict[str, tuple[float, float]]:
        """(sum, count) of the consumers' batch sizes and of intake's commit groups."""
        out = {}
        for service in CONSUMERS:
            text = self.platform.metrics(service)
            name = f"accolade_{service}_consumer_batch_messages"
            out[f"{service}_batch"] = (counter(text, f"{name}_sum"), counter(text, f"{name}_count"))
        for service in ("gateway", "feedback"):
            text = self.platform.metrics(service)
            name = f"accolade_{service}_commit_group_calls"
            out[f"{service}_commit"] = (
                counter(text, f"{name}_sum"),
                counter(text, f"{name}_count"),
            )
        return out

    def applied(self, service: str) -> float:
        return counter(self.platform.metrics(service), f"accolade_{service}_events_applied_total")

    async def wait_applied(
        self, targets: dict[str, float], t0: float, within: float = 300
    ) -> dict[str, float]:
        """Polls each consumer's applied counter until it reaches its target; returns when."""
        done: dict[str, float] = {}
        deadline = time.perf_counter() + within
        while len(done) < len(targets):
            for service, target in targets.items():
                if service not in done and self.applied(service) >= target:
                    done[service] = time.perf_counter() - t0
            if time.perf_counter() > deadline:
                raise TimeoutError(f"not every event applied in {within} s: {done}")
            await asyncio.sleep(0.02)
        return done

    async def tenant(self, prefix: str = "bench") -> str:
        """A new tenant with the whole starter program applied, as a contact center runs it."""
        tenant = f"{prefix}-{uuid.uuid4().hex[:6]}"
        await self.platform.add_tenant(tenant)
        since = datetime.now(UTC) - timedelta(days=1)
        await self.platform.achievements.ApplyProgram(programs.starter(tenant, effective_at=since))
        return tenant

    async def warm_up(self, tenant: str) -> None:
        """Sends a few events and waits until every consumer applied them (groups joined)."""
        targets = {s: self.applied(s) + 20 for s in CONSUMERS}
        await self.platform.publish([interaction(tenant, a) for a in self.agents[:20]])
        await self.wait_applied(targets, time.perf_counter(), within=60)

    async def batches(self, events: int, batch: int, concurrency: int) -> dict[str, Any]:
        tenant = await self.tenant()
        await self.warm_up(await self.tenant("warm"))
        payload = [
            [
                interaction(tenant, self.agents[(b * batch + i) % len(self.agents)])
                for i in range(batch)
            ]
            for b in range(events // batch)
        ]
        sent = sum(len(b) for b in payload)
        targets = {s: self.applied(s) + sent for s in CONSUMERS}
        queue = list(reversed(payload))
        latencies: list[float] = []

        async def sender() -> None:
            while queue:
                b = queue.pop()
                t = time.perf_counter()
                statuses = await self.platform.publish(b)
                latencies.append(time.perf_counter() - t)
                if statuses != [ACCEPTED] * len(b):
                    raise AssertionError("intake did not accept every event of a batch")

        cpu0, avg0 = self.procs.cpu(), self.averages()
        t0 = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(concurrency)))
        intake = time.perf_counter() - t0
        done = await self.wait_applied(targets, t0)
        cpu1, avg1 = self.procs.cpu(), self.averages()
        slowest = max(done.values())
        await self.verify(tenant, [e for b in payload for e in b])
        return {
            "events": sent,
            "batch": batch,
            "concurrency": concurrency,
            "intake_seconds": round(intake, 3),
            "intake_events_per_s": round(sent / intake),
            "batch_latency_p50_ms": round(statistics.median(latencies) * 1000, 1),
            "batch_latency_p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
            "applied_seconds": {s: round(t, 3) for s, t in done.items()},
            "end_to_end_events_per_s": round(sent / slowest),
            "slowest_consumer": max(done, key=done.__getitem__),
            "cpu_us_per_event": _per_event(cpu0, cpu1, sent),
            "mean_sizes": _means(avg0, avg1),
        }

    async def verify(self, tenant: str, sent: list[Any]) -> None:
        """Checks the persisted state against what was sent, computed another way: boards
        and challenges by counting, badges by the rules engine's in-memory reference."""
        resolved: dict[str, int] = {}
        for e in sent:
            if e.interaction_completed.resolved_first_contact:
                resolved[e.agent_id] = resolved.get(e.agent_id, 0) + 1
        request = programs.starter(tenant, effective_at=datetime.now(UTC) - timedelta(days=1))
        rules = [
            compile_badge(b, 1, request.effective_at.ToDatetime(tzinfo=UTC)) for b in request.badges
        ]
        reference = MemoryState()
        reference.apply(sent, {tenant: Program.of(rules, Calendar())}, {}, datetime.now(UTC))
        expected = sorted((k[1], k[2], k[3]) for k in reference.awards)
        conn = await asyncpg.connect(self.database_url)
        try:
            scores = dict(
                await conn.fetch(
                    "SELECT agent_id, sum(score)::int FROM leaderboards.period_scores "
                    "WHERE tenant_id = $1 GROUP BY agent_id",
                    tenant,
                )
            )
            progress = dict(
                await conn.fetch(
                    "SELECT agent_id, sum(progress)::int FROM challenges.challenge_progress "
                    "WHERE tenant_id = $1 GROUP BY agent_id",
                    tenant,
                )
            )
            badges = await conn.fetch(
                "SELECT agent_id, badge_id, tier_id FROM achievements.agent_badges "
                "WHERE tenant_id = $1 ORDER BY 1, 2, 3",
                tenant,
            )
        finally:
            await conn.close()
        if scores != resolved or progress != resolved:
            raise AssertionError("the persisted boards or challenges do not match what was sent")
        if [tuple(r) for r in badges] != expected:
            raise AssertionError(
                f"the persisted badges ({len(badges)}) do not match the engine's reference "
                f"({len(expected)})"
            )

    async def unary(self, calls: int, clients: int) -> dict[str, Any]:
        tenant = await self.tenant()
        await self.warm_up(await self.tenant("warm"))
        channels = [
            grpc.aio.insecure_channel(f"127.0.0.1:{self.platform.endpoints[s].grpc_port}")
            for s in ("gateway", "feedback")
            for _ in range(clients)
        ]
        # As an integrator sends them: its key on every call.
        key = bearer(self.platform.integration_keys[tenant])
        gateways = [gateway_service_pb2_grpc.GatewayServiceStub(c) for c in channels[:clients]]
        feedbacks = [feedback_service_pb2_grpc.FeedbackServiceStub(c) for c in channels[clients:]]
        try:

            def publish(i: int) -> Callable[[], Awaitable[object]]:
                request = gateway_service_pb2.PublishEventsRequest(
                    events=[interaction(tenant, self.agents[i % len(self.agents)])]
                )
                return lambda: gateways[i % clients].PublishEvents(
                    request, timeout=30, metadata=key
                )

            def survey(i: int) -> Callable[[], Awaitable[object]]:
                request = feedback_service_pb2.SubmitSurveyRequest(
                    tenant_id=tenant,
                    agent_id=self.agents[i % len(self.agents)],
                    survey_id=str(uuid.uuid4()),
                    interaction_id=f"i-{i}",
                    csat=1 + i % 5,
                )
                return lambda: feedbacks[i % clients].SubmitSurvey(
                    request, timeout=30, metadata=key
                )

            out = {}
            for name, make in (("PublishEvents", publish), ("SubmitSurvey", survey)):
                await asyncio.gather(*(make(i)() for i in range(clients)))  # connect first
                out[name] = await self._calls([make(i) for i in range(calls)], clients)
            return out
        finally:
            for c in channels:
                await c.close()

    async def _calls(
        self, calls: list[Callable[[], Awaitable[object]]], clients: int
    ) -> dict[str, Any]:
        latencies: list[float] = []
        queue = list(reversed(calls))

        async def client() -> None:
            while queue:
                call = queue.pop()
                t = time.perf_counter()
                await call()
                latencies.append(time.perf_counter() - t)

        cpu0, avg0 = self.procs.cpu(), self.averages()
        t0 = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        elapsed = time.perf_counter() - t0
        cpu1, avg1 = self.procs.cpu(), self.averages()
        return {
            "calls": len(calls),
            "clients": clients,
            "calls_per_s": round(len(calls) / elapsed),
            "p50_ms": round(statistics.median(latencies) * 1000, 1),
            "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
            "cpu_us_per_call": _per_event(cpu0, cpu1, len(calls)),
            "mean_sizes": _means(avg0, avg1),
        }

    async def notify(self, rate: int, probes: int) -> dict[str, Any]:
        tenant = await self.tenant()
        await self.warm_up(tenant)  # the background agents hold their badges already
        watched = [f"probe-{i:03d}" for i in range(probes)]
        arrived: dict[str, float] = {}
        # Wall-clock instants, to split the path at the badge's recorded_at (set when
        # achievements made the award durable): consumer side, then notification side.
        answered_at: dict[str, float] = {}
        recorded: dict[str, float] = {}
        arrived_at: dict[str, float] = {}
        streams = []

        async def watch(agent: str) -> None:
            stream = self.platform.gateway.WatchAgent(
                gateway_service_pb2.WatchAgentRequest(tenant_id=tenant, agent_id=agent)
            )
            streams.append(stream)
            async for message in stream:
                if message.event.badge_awarded.badge_id:
                    arrived.setdefault(agent, time.perf_counter())
                    arrived_at.setdefault(agent, time.time())
                    recorded.setdefault(agent, message.event.recorded_at.ToNanoseconds() / 1e9)
                    return

        watchers = [asyncio.create_task(watch(a)) for a in watched]
        await asyncio.sleep(2)  # every stream is registered with the hub
        stop = asyncio.Event()

        def batch(n: int) -> list[Any]:
            return [interaction(tenant, self.agents[i % len(self.agents)]) for i in range(n)]

        cpu0 = self.procs.cpu()
        load = asyncio.create_task(steady_load(self.platform.publish, batch, rate, stop))
        answered: dict[str, float] = {}
        try:
            await asyncio.sleep(2)  # the load is steady before the first probe
            for agent in watched:
                await self.platform.publish([interaction(tenant, agent)])
                answered[agent] = time.perf_counter()
                answered_at[agent] = time.time()
                await asyncio.sleep(0.1)
            await asyncio.wait_for(asyncio.gather(*watchers), 60)
        finally:
            stop.set()
            sent = await load
            for s in streams:
                s.cancel()
            for w in watchers:
                w.cancel()
            await asyncio.gather(*watchers, return_exceptions=True)
        # CPU over the load, by process: at this rate the fixed costs of small batches show.
        cpu = _per_event(cpu0, self.procs.cpu(), sent)
        latencies = [(arrived[a] - answered[a]) * 1000 for a in watched]
        awarded = [(recorded[a] - answered_at[a]) * 1000 for a in watched]
        delivered = [(arrived_at[a] - recorded[a]) * 1000 for a in watched]
        return {
            "background_events_per_s": rate,
            "probes": probes,
            "notify_p50_ms": round(statistics.median(latencies), 1),
            "notify_p99_ms": round(percentile(latencies, 0.99), 1),
            "notify_max_ms": round(max(latencies), 1),
            # answer -> award durable in achievements; award durable -> on the stream
            "awarded_p50_ms": round(statistics.median(awarded), 1),
            "awarded_p99_ms": round(percentile(awarded, 0.99), 1),
            "delivered_p50_ms": round(statistics.median(delivered), 1),
            "delivered_p99_ms": round(percentile(delivered, 0.99), 1),
            "cpu_us_per_event": cpu,
        }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="accolade-bench-") as tmp:
        postgres = EmbeddedPostgres(Path(tmp) / "pg")
        broker = EmbeddedBroker()
        postgres.start()
        broker.start()
        platform = Platform(
            postgres.url, broker.bootstrap, "bench", Path(tmp), partitions=3, health_interval=1.0
        )
        try:
            started = time.monotonic()
            await platform.start()
            serving = time.monotonic() - started
            postmaster = int((Path(tmp) / "pg" / "postmaster.pid").read_text().split()[0])
            procs = Processes(
                {n: p.pid for n, p in platform.processes.items()}, postmaster, broker.pid or 0
            )
            bench = Bench(platform, procs, postgres.url)
            if os.environ.get("ACCOLADE_BENCH_PGLOG"):  # for profiling: every statement's duration
                conn = await asyncpg.connect(postgres.url)
                await conn.execute("ALTER SYSTEM SET log_min_duration_statement = 0")
                await conn.execute("ALTER SYSTEM SET log_line_prefix = '%m %a [%p] '")
                await conn.execute("SELECT pg_reload_conf()")
                await conn.close()
            result: dict[str, Any] = {
                "command": " ".join(["scripts/bench.py", *sys.argv[1:]]),
                "when": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": {
                    "cpus": os.cpu_count(),
                    "cpu": _cpu_model(),
                    "python": host.python_version(),
                },
                "platform_serving_seconds": round(serving, 1),
            }
            print(f"platform SERVING in {serving:.1f} s", flush=True)
            if args.spy:
                _spy(args.spy, procs, tmp)
            if "batches" in args.phases:
                result["batches"] = await bench.batches(args.events, args.batch, args.concurrency)
                print("batches measured", flush=True)
            if "unary" in args.phases:
                result["unary"] = await bench.unary(args.calls, args.clients)
                print("unary calls measured", flush=True)
            if "notify" in args.phases:
                result["notify"] = await bench.notify(args.notify_rate, args.probes)
                print("notifications measured", flush=True)
            if "board" in args.phases:
                result["board"] = await bench_board.board(
                    platform,
                    postgres.url,
                    procs.services["leaderboards"],
                    args.board_agents,
                    args.board_rate,
                    args.board_calls,
                )
            result["peak_rss_mb"] = procs.peak_rss_mb()
        finally:
            await platform.close()
            broker.stop()
            if os.environ.get("ACCOLADE_BENCH_PGLOG"):
                import shutil

                shutil.copy(Path(tmp) / "pg" / "log", os.environ["ACCOLADE_BENCH_PGLOG"])
            postgres.stop()
    if b := result.get("batches"):
        result["intake_events_per_s"] = b["intake_events_per_s"]
        result["end_to_end_events_per_s"] = b["end_to_end_events_per_s"]
        result["cpu_us_per_event"] = b["cpu_us_per_event"]
    if u := result.get("unary"):
        # The slower of the two RPCs and the worse tail, so one figure holds for both.
        result["unary_calls_per_s"] = min(u[k]["calls_per_s"] for k in u)
        result["unary_p99_ms"] = max(u[k]["p99_ms"] for k in u)
    if n := result.get("notify"):
        result["notify_p50_ms"] = n["notify_p50_ms"]
        result["notify_p99_ms"] = n["notify_p99_ms"]
    if lb := result.get("board"):
        result["leaderboard_top10_p99_ms"] = lb["top10_p99_ms"]
        result["leaderboard_rank_p99_ms"] = lb["rank_p99_ms"]
        result["leaderboard_index_mb_per_million"] = lb["index_mb_per_million"]
    return result


def _spy(names: list[str], procs: Processes, tmp: str) -> None:
    """Starts py-spy (if installed) on the named services, for profiling the bench."""
    import shutil
    import subprocess

    spy = shutil.which("py-spy")
    if spy is None:
        raise SystemExit("--spy needs py-spy on the PATH")
    for name in names:
        out = Path(tempfile.gettempdir()) / f"bench-{name}.folded"
        subprocess.Popen(  # noqa: S603 - a profiler the developer asked for
            [
                spy,
                "record",
                "-f",
                "raw",
                "-r",
                "250",
                "-o",
                str(out),
                "-p",
                str(procs.services[name]),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        print(f"profiling {name} into {out}", flush=True)


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return host.processor()


def table(r: dict[str, Any]) -> str:
    rows = [
        ("machine", f"{r['machine']['cpus']} CPUs ({r['machine']['cpu']}), everything on it"),
        ("platform start to SERVING", f"{r['platform_serving_seconds']} s"),
    ]
    if b := r.get("batches"):
        rows += _batch_rows(b)
    rows += [
        (
            f"one-event {name} calls, {u['clients']} clients",
            f"{u['calls_per_s']:,} calls/s; {u['p50_ms']} ms p50, {u['p99_ms']} ms p99",
        )
        for name, u in r.get("unary", {}).items()
    ]
    if n := r.get("notify"):
        rows.append(
            (
                f"PublishEvents answer to badge on WatchAgent, under {n['background_events_per_s']:,} events/s",
                f"{n['notify_p50_ms']} ms p50, {n['notify_p99_ms']} ms p99 ({n['probes']} probes)",
            )
        )
        rows += [
            (
                "  of which: answer to award durable",
                f"{n['awarded_p50_ms']} ms p50, {n['awarded_p99_ms']} ms p99",
            ),
            (
                "  of which: award durable to stream",
                f"{n['delivered_p50_ms']} ms p50, {n['delivered_p99_ms']} ms p99",
            ),
            (
                "  CPU per event of that load",
                ", ".join(f"{k} {v} us" for k, v in n["cpu_us_per_event"].items()),
            ),
        ]
    if lb := r.get("board"):
        rows += [
            (
                f"board of {lb['agents']:,} agents, under {lb['updates_per_s']:,} updates/s",
                f"top 10 {lb['top10_p50_ms']} ms p50, {lb['top10_p99_ms']} ms p99; own rank "
                f"{lb['rank_p50_ms']} ms p50, {lb['rank_p99_ms']} ms p99",
            ),
            (
                "  its rank index",
                f"{lb['index_mb_per_million']} MiB per million entries; loaded on the "
                f"first read in {lb['first_read_seconds']} s; in one process, an update "
                f"{lb['index_update_us']} us, a rank {lb['index_rank_us']} us, a top 10 "
                f"{lb['index_top10_us']} us",
            ),
        ]
    rows.append(
        ("peak memory (RSS)", ", ".join(f"{k} {v} MiB" for k, v in r["peak_rss_mb"].items()))
    )
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def _batch_rows(b: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (
            f"intake, batches of {b['batch']} ({b['concurrency']} at a time)",
            f"{b['intake_events_per_s']:,} events/s; a batch answered in "
            f"{b['batch_latency_p50_ms']} ms p50, {b['batch_latency_p99_ms']} ms p99",
        ),
        *(
            (f"all {b['events']:,} applied by {s}", f"{t} s after the first send")
            for s, t in b["applied_seconds"].items()
        ),
        ("end to end (slowest consumer)", f"{b['end_to_end_events_per_s']:,} events/s"),
        (
            "CPU per event",
            ", ".join(f"{k} {v} us" for k, v in b["cpu_us_per_event"].items()),
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000, help="events sent in batches")
    parser.add_argument("--batch", type=int, default=500, help="events per PublishEvents call")
    parser.add_argument("--concurrency", type=int, default=4, help="batches in flight at once")
    parser.add_argument("--calls", type=int, default=5_000, help="one-event calls of each RPC")
    parser.add_argument("--clients", type=int, default=16, help="concurrent one-event callers")
    parser.add_argument("--notify-rate", type=int, default=2_000, help="background events/s")
    parser.add_argument("--probes", type=int, default=100, help="badges timed to the stream")
    parser.add_argument("--board-agents", type=int, default=1_000_000, help="agents on the board")
    parser.add_argument("--board-rate", type=int, default=2_000, help="board updates/s")
    parser.add_argument("--board-calls", type=int, default=1_000, help="reads of each kind")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--phases",
        type=lambda v: v.split(","),
        default=["batches", "unary", "notify", "board"],
        help="which measurements to run, comma-separated (default: all four)",
    )
    parser.add_argument(
        "--spy", type=lambda v: v.split(","), default=[], help="services to profile with py-spy"
    )
    args = parser.parse_args()
    result = asyncio.run(run(args))
    print(table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        print(f"figures written to {args.json}")


if __name__ == "__main__":
    main()
