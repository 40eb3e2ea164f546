"""Runs one service: gRPC server, health, metrics, outbox relay and consumers."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
from collections.abc import Awaitable

import asyncpg
import grpc
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from accolade.runtime import auth, db, kafka, limits, retention, tls
from accolade.runtime.consumer import InboxConsumer
from accolade.runtime.identity import IdentityFollower, KeyRing
from accolade.runtime.interceptors import ServiceInterceptor
from accolade.runtime.limits import Limiter
from accolade.runtime.metrics import Metrics, MetricsServer
from accolade.runtime.relay import OutboxRelay
from accolade.runtime.retention import Retention
from accolade.runtime.service import Context, ServiceDefinition, close_on_exit
from accolade.runtime.settings import Settings, SettingsError

log = logging.getLogger(__name__)

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
LIVENESS = "liveness"
# How long each client or pool may take to close once the drain is over.
CLOSE_TIMEOUT = 5.0


def migrations_for(definition: ServiceDefinition) -> list[db.Migration]:
    """The runtime's migrations followed by the service's own."""
    return [
        *db.load_migrations("runtime", "accolade.runtime"),
        *db.load_migrations(definition.name, definition.package),
    ]


def retained(definition: ServiceDefinition) -> list[Retention]:
    """The tables of a service purged of old rows: its outbox, its inbox if it consumes,
    and its own."""
    inbox = [retention.INBOX] if definition.consumers else []
    return [retention.OUTBOX, *inbox, *definition.retention]


async def _purge(ctx: Context, tables: list[Retention]) -> None:
    """Deletes rows past their retention, every purge interval, until cancelled."""
    while True:
        for t in tables:
            try:
                async with ctx.pool.acquire() as conn:
                    deleted = await t.purge(conn, ctx.settings)
            except Exception as exc:  # noqa: BLE001 - try again next round; the rows keep
                log.warning("retention purge failed", extra={"table": t.table, "error": repr(exc)})
                continue
            if deleted:
                log.info("purged rows past retention", extra={"table": t.table, "rows": deleted})
        await asyncio.sleep(ctx.settings.purge_interval_seconds)


class _Health:
    """Keeps the health status of "" and the service name in step with its dependencies."""

    def __init__(
        self, servicer: health.aio.HealthServicer, names: list[str], metrics: Metrics
    ) -> None:
        self.servicer = servicer
        self._names = names
        self._metrics = metrics
        self.serving = False

    async def set(self, serving: bool) -> None:
        if serving != self.serving:
            log.info("health %s", "SERVING" if serving else "NOT_SERVING")
        self.serving = serving
        self._metrics.serving.set(serving)
        for name in self._names:
            await self.servicer.set(name, SERVING if serving else NOT_SERVING)

    async def watch(self, ctx: Context, interval: float) -> None:
        while True:
            db_ok = await _probe(ctx.pool.fetchval("SELECT 1"))
            kafka_ok = await _probe(ctx.producer.client.fetch_all_metadata())
            self._metrics.dependency_up.labels("postgres").set(db_ok)
            self._metrics.dependency_up.labels("kafka").set(kafka_ok)
            await self.set(db_ok and kafka_ok and all(check() for check in ctx.ready_checks))
            await asyncio.sleep(interval)


async def _probe(awaitable: Awaitable[object]) -> bool:
    try:
        async with asyncio.timeout(2.0):
            await awaitable
    except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError, KafkaError):
        return False
    return True


async def _start_producer(ctx_settings: Settings, stop: asyncio.Event) -> AIOKafkaProducer | None:
    """Starts a producer, retrying while the broker is away (health stays NOT_SERVING)."""
    delay = 0.5
    while True:
        producer = kafka.producer(ctx_settings)
        try:
            await producer.start()
        except KafkaError as exc:
            await producer.stop()
            log.warning(
                "broker unreachable; retrying", extra={"error": repr(exc), "retry_in": delay}
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            if stop.is_set():
                return None
            delay = min(delay * 2, 5.0)
            continue
        return producer


async def serve(
    definition: ServiceDefinition,
    settings: Settings,
    stop: asyncio.Event | None = None,
    bound: asyncio.Future[tuple[int, int]] | None = None,
    *,
    handle_signals: bool = True,
) -> None:
    """Runs `definition` until `stop` is set or the process gets SIGTERM or SIGINT.

    Args:
        definition: the service.
        settings: its settings.
        stop: set it to shut the service down; made here when not given.
        bound: resolved with the (gRPC, metrics) ports once both listen.
        handle_signals: stop on SIGTERM and SIGINT (off when embedded, as in tests).
    """
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT) if handle_signals else ():
        loop.add_signal_handler(sig, stop.set)

    undeclared = auth.undeclared(definition.grpc_service, definition.access)
    if undeclared:
        raise ValueError(f"{definition.name}: no Access declared for {', '.join(undeclared)}")
    metrics = Metrics.create(definition.name)
    server_tls = tls.load(settings.tls)
    if warning := tls.plaintext_warning(settings):
        log.warning(warning)
    async with contextlib.AsyncExitStack() as stack:
        try:
            metrics_server = MetricsServer(
                metrics, settings.grpc_host, settings.metrics_port, server_tls
            )
        except OSError as exc:
            raise SettingsError(
                f"ACCOLADE_METRICS_PORT: cannot listen on {settings.grpc_host}:"
                f"{settings.metrics_port} ({exc.strerror})"
            ) from None
        stack.callback(metrics_server.close)

        ring = KeyRing()
        limiter = Limiter(
            ring,
            {
                limits.INTAKE: settings.rate_limit_intake_per_second,
                limits.READ: settings.rate_limit_reads_per_second,
            },
        )
        interceptor = ServiceInterceptor(metrics, ring, dict(definition.access), limiter=limiter)
        server = grpc.aio.server(interceptors=[interceptor])
        health_servicer = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
        status = _Health(health_servicer, ["", definition.grpc_service], metrics)
        await status.set(False)
        reflection.enable_server_reflection(
            (definition.grpc_service, health.SERVICE_NAME, reflection.SERVICE_NAME), server
        )
        address = f"{settings.grpc_host}:{settings.grpc_port}"
        try:
            if server_tls is None:
                grpc_port = server.add_insecure_port(address)
            else:
                grpc_port = server.add_secure_port(address, server_tls.grpc_credentials())
        except RuntimeError:
            raise SettingsError(
                f"ACCOLADE_GRPC_PORT: cannot listen on {address} "
                "(in use, or not an address of this host)"
            ) from None
        # Kubelet's gRPC probes speak only plaintext: with TLS on, they ask this port,
        # which answers health and nothing else (no key ever crosses it).
        probes: grpc.aio.Server | None = None
        if settings.probe_port is not None:
            probes = grpc.aio.server()
            health_pb2_grpc.add_HealthServicer_to_server(health_servicer, probes)
            try:
                probe_port = probes.add_insecure_port(f"{settings.grpc_host}:{settings.probe_port}")
            except RuntimeError:
                raise SettingsError(
                    f"ACCOLADE_PROBE_PORT: cannot listen on {settings.grpc_host}:"
                    f"{settings.probe_port} (in use, or not an address of this host)"
                ) from None

        pool = await db.create_pool(
            settings.database_url, definition.name, application=f"accolade-{definition.name}"
        )
        close_on_exit(stack, "database pool", pool.close, CLOSE_TIMEOUT)
        producer = await _start_producer(settings, stop)
        if producer is None:
            log.info("stopped", extra={"before": "the broker answered"})
            return
        close_on_exit(stack, "producer", producer.stop, CLOSE_TIMEOUT)

        ctx = Context(settings, pool, producer, metrics, stack, ring)
        follower = IdentityFollower(
            ring,
            # The topic is quiet: a fetch may wait half a second for news, which keeps an
            # idle service's cost (and the broker's) low and revocations within a second.
            lambda: kafka.tail_consumer(settings, start="earliest", fetch_max_wait_ms=500),
            producer,
            ctx.topic("identity"),
            metrics.gauge("api_keys", "API keys known and not revoked."),
        )
        # Supervised like any background task; calls are answered UNAVAILABLE until the
        # keys the topic held at start are read, and the service is not SERVING.
        ctx.spawn(follower.run, "identity")
        ctx.ready_checks.append(lambda: ring.loaded)
        if (team_of := definition.team_of) is not None:
            interceptor.team_of = functools.partial(team_of, ctx)
        servicer = await definition.servicer(ctx)
        definition.register(servicer, server)
        await server.start()
        if probes is not None:
            await probes.start()
        # "liveness" answers SERVING while the process answers at all: a liveness probe on
        # it restarts a hung process, not one waiting out a database or broker outage.
        await health_servicer.set(LIVENESS, SERVING)

        async def stop_server(grace: float = settings.shutdown_grace_seconds) -> None:
            await health_servicer.enter_graceful_shutdown()
            await server.stop(grace)
            if probes is not None:
                await probes.stop(None)

        stack.push_async_callback(stop_server)
        if bound is not None:
            bound.set_result((grpc_port, metrics_server.port))
        log.info(
            "started",
            extra={
                "grpc_port": grpc_port,
                "metrics_port": metrics_server.port,
                "tls": server_tls is not None,
                **({"probe_port": probe_port} if probes is not None else {}),
            },
        )

        probe = kafka.tail_consumer(settings)
        await probe.start()
        ctx.on_exit("offset probe", probe.stop)
        relay = OutboxRelay(settings, definition.name, pool, producer, probe, metrics)
        relay_task = asyncio.create_task(relay.run(), name="outbox-relay")

        # Serving RPCs does not wait for the consumers to join their groups (seconds, on
        # some brokers): health is reported from here on.
        health_task = asyncio.create_task(
            status.watch(ctx, settings.health_interval_seconds), name="health"
        )
        consumers: list[tuple[InboxConsumer, asyncio.Task[None]]] = []
        for spec in definition.consumers:
            group = f"{settings.topics.namespace}.{definition.name}.{spec.name}"
            inbox = InboxConsumer(
                name=f"{definition.name}.{spec.name}",
                consumer=kafka.group_consumer(settings, group),
                pool=pool,
                handler=spec.handler(ctx),
                topics={ctx.topic(t): t for t in spec.topics},
                dead_letter_topic=settings.topics.dead_letter(f"{definition.name}.{spec.name}"),
                metrics=metrics,
                batch_size=settings.consumer_batch_size,
                record=not spec.idempotent,
            )
            ctx.on_exit(f"consumer {inbox.name}", inbox.close)
            consumers.append((inbox, asyncio.create_task(inbox.run(), name=f"consume-{spec.name}")))
        purging = asyncio.create_task(_purge(ctx, retained(definition)), name="retention")
        await stop.wait()
        log.info("stopping")

        # Stop taking RPCs first, then drain consumers (committing what they applied),
        # then flush the outbox one last time, all within one grace period; the stack then
        # closes the clients and the pool, each within CLOSE_TIMEOUT.
        deadline = loop.time() + settings.shutdown_grace_seconds

        def left() -> float:
            return max(0.1, deadline - loop.time())

        for inbox, _ in consumers:
            await inbox.stop()
        await stop_server(left())
        health_task.cancel()
        purging.cancel()
        for inbox, task in consumers:
            try:
                await asyncio.wait_for(task, left())
            except TimeoutError:
                log.warning("consumer did not stop in time", extra={"consumer": inbox.name})
        for task in ctx.tasks:
            task.cancel()
        await relay.stop()
        try:
            await asyncio.wait_for(relay_task, left())
        except TimeoutError:
            log.warning("outbox relay did not stop in time")
        await asyncio.gather(health_task, purging, *ctx.tasks, return_exceptions=True)
    log.info("stopped")
