"""Prometheus metrics every service exposes, named accolade_<service>_<noun>_<unit>."""

from __future__ import annotations

import dataclasses
import threading
from typing import TYPE_CHECKING
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

if TYPE_CHECKING:
    from accolade.runtime.tls import ServerTls

# RPC latencies in contact-center APIs span sub-millisecond reads to batch writes.
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclasses.dataclass(frozen=True, slots=True)
class Metrics:
    """The runtime's metrics for one service, in a registry of its own.

    Services add their own business metrics to `registry` with `counter`.
    """

    service: str
    registry: CollectorRegistry
    rpc_requests: Counter
    rpc_duration: Histogram
    events_consumed: Counter
    events_applied: Counter
    events_duplicate: Counter
    consumer_lag: Gauge
    dead_lettered: Counter
    dead_letters_replayed: Counter
    consumer_retries: Counter
    commit_group_calls: Histogram
    consumer_batch_messages: Histogram
    outbox_backlog: Gauge
    outbox_published: Counter
    outbox_republished: Counter
    dependency_up: Gauge
    task_restarts: Counter
    serving: Gauge

    @classmethod
    def create(cls, service: str) -> Metrics:
        """Makes the runtime metrics of `service` in a new registry."""
        reg = CollectorRegistry()
        p = f"accolade_{service}"
        return cls(
            service=service,
            registry=reg,
            rpc_requests=Counter(
                f"{p}_rpc_requests",
                "RPCs handled, by method and status code.",
                ["method", "code"],
                registry=reg,
            ),
            rpc_duration=Histogram(
                f"{p}_rpc_duration_seconds",
                "RPC handling time, by method.",
                ["method"],
                buckets=_LATENCY_BUCKETS,
                registry=reg,
            ),
            events_consumed=Counter(
                f"{p}_events_consumed",
                "Messages read from Kafka, by topic.",
                ["topic"],
                registry=reg,
            ),
            events_applied=Counter(
                f"{p}_events_applied",
                "Events applied to state for the first time, by topic.",
                ["topic"],
                registry=reg,
            ),
            events_duplicate=Counter(
                f"{p}_events_duplicate",
                "Events seen again and skipped, by topic.",
                ["topic"],
                registry=reg,
            ),
            consumer_lag=Gauge(
                f"{p}_consumer_lag_messages",
                "Messages in Kafka not yet applied, by topic and partition.",
                ["topic", "partition"],
                registry=reg,
            ),
            dead_lettered=Counter(
                f"{p}_dead_lettered_messages",
                "Messages sent to the dead-letter topic, by source topic and reason.",
                ["topic", "reason"],
                registry=reg,
            ),
            dead_letters_replayed=Counter(
                f"{p}_dead_letters_replayed",
                "Dead letters replayed on request, by consumer and outcome "
                "(applied, duplicate, failed).",
                ["consumer", "outcome"],
                registry=reg,
            ),
            consumer_retries=Counter(
                f"{p}_consumer_retries",
                "Consumer batches rolled back and retried, by consumer and the environment's "
                "fault (connection, timeout, interrupted, resources, read_only, conflict, "
                "schema, system, broker, unexpected).",
                ["consumer", "reason"],
                registry=reg,
            ),
            commit_group_calls=Histogram(
                f"{p}_commit_group_calls",
                "Calls answered by one shared transaction (group commit), by what they store.",
                ["store"],
                buckets=(1, 2, 4, 8, 16, 32, 64, 128),
                registry=reg,
            ),
            consumer_batch_messages=Histogram(
                f"{p}_consumer_batch_messages",
                "Messages a consumer applied in one transaction, by consumer.",
                ["consumer"],
                buckets=(1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000),
                registry=reg,
            ),
            outbox_backlog=Gauge(
                f"{p}_outbox_backlog_messages",
                "Outbox rows not yet published to Kafka.",
                registry=reg,
            ),
            outbox_published=Counter(
                f"{p}_outbox_published_messages",
                "Outbox rows published to Kafka, by topic.",
                ["topic"],
                registry=reg,
            ),
            outbox_republished=Counter(
                f"{p}_outbox_republished_messages",
                "Outbox rows published again after the broker lost its log, by topic.",
                ["topic"],
                registry=reg,
            ),
            dependency_up=Gauge(
                f"{p}_dependency_up",
                "1 when a dependency answers, by dependency.",
                ["dependency"],
                registry=reg,
            ),
            task_restarts=Counter(
                f"{p}_task_restarts",
                "Background tasks (such as the gateway's notification hub) started again "
                "after they failed, by task.",
                ["task"],
                registry=reg,
            ),
            serving=Gauge(
                f"{p}_serving", "1 while the service's gRPC health says SERVING.", registry=reg
            ),
        )

    def counter(self, noun: str, documentation: str, labels: tuple[str, ...] = ()) -> Counter:
        """Registers a business counter named accolade_<service>_<noun>_total."""
        return Counter(
            f"accolade_{self.service}_{noun}", documentation, labels, registry=self.registry
        )

    def gauge(self, noun: str, documentation: str, labels: tuple[str, ...] = ()) -> Gauge:
        """Registers a gauge named accolade_<service>_<noun>."""
        return Gauge(
            f"accolade_{self.service}_{noun}", documentation, labels, registry=self.registry
        )


class MetricsServer:
    """Serves /metrics over HTTP on a daemon thread; `close` stops it."""

    def __init__(
        self, metrics: Metrics, host: str, port: int, tls: ServerTls | None = None
    ) -> None:
        self._server: WSGIServer
        self._thread: threading.Thread
        self._server, self._thread = start_http_server(
            port,
            host,
            registry=metrics.registry,
            certfile=tls.cert_file if tls else None,
            keyfile=tls.key_file if tls else None,
        )

    @property
    def port(self) -> int:
        """The port actually bound (useful when asked for port 0)."""
        return int(self._server.server_port)

    def close(self) -> None:
        """Stops serving and waits for the thread."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
