"""Typed settings, read once from the environment at start-up."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Final

# Default ports by service, as fixed in the design: (gRPC, metrics HTTP).
SERVICE_PORTS: Final[Mapping[str, tuple[int, int]]] = {
    "gateway": (50051, 9101),
    "feedback": (50052, 9102),
    "achievements": (50053, 9103),
    "challenges": (50054, 9104),
    "leaderboards": (50055, 9105),
}

# The gateway's agent console (HTTP): the card's script, snapshot and live stream.
CONSOLE_PORT: Final = 8088

TOPIC_NAMES: Final = (
    "activity",
    "feedback",
    "roster",
    "awards",
    "challenges",
    "leaderboards",
    "identity",
)
# Topics that keep each key's latest message rather than messages for a retention.
COMPACTED: Final = frozenset({"roster", "identity"})


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


@dataclasses.dataclass(frozen=True, slots=True)
class Topics:
    """Kafka topic names, all derived from one namespace so tests and tenants can isolate."""

    namespace: str = "accolade"

    def topic(self, name: str) -> str:
        """The full topic name for a logical topic such as "activity"."""
        if name not in TOPIC_NAMES:
            raise KeyError(name)
        return f"{self.namespace}.{name}.v1"

    def dead_letter(self, consumer: str) -> str:
        """The dead-letter topic of one consumer (a service's consumer group)."""
        return f"{self.namespace}.{consumer}.dlq.v1"

    def all(self) -> list[str]:
        """Every shared topic."""
        return [self.topic(name) for name in TOPIC_NAMES]

    def compacted(self) -> list[str]:
        """The shared topics that keep each key's latest message."""
        return [self.topic(name) for name in TOPIC_NAMES if name in COMPACTED]


_SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
_SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


@dataclasses.dataclass(frozen=True, slots=True)
class KafkaSecurity:
    """How clients authenticate to the brokers and encrypt the connection."""

    protocol: str = "PLAINTEXT"
    sasl_mechanism: str = ""
    sasl_username: str = ""
    sasl_password: str = dataclasses.field(default="", repr=False)
    # A PEM bundle of the CAs that signed the brokers' certificates; empty: the system's.
    ssl_cafile: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class Tls:
    """The certificate every endpoint of the service (gRPC, metrics, console) presents.

    Without cert_file and key_file the endpoints are plaintext. ca_file is the PEM bundle
    that signed the other services' certificates, for the calls a service makes to
    another (the gateway's console to achievements); empty: the system's CAs.
    """

    cert_file: str = ""
    key_file: str = ""
    ca_file: str = ""

    @property
    def enabled(self) -> bool:
        return bool(self.cert_file)


@dataclasses.dataclass(frozen=True, slots=True)
class Settings:
    """Everything a service process is configured with.

    Build it with `Settings.from_env`; every field maps to one `ACCOLADE_*` variable.
    """

    service: str
    database_url: str
    kafka_bootstrap: str
    grpc_host: str = "0.0.0.0"  # noqa: S104 - a service listens on every interface of its pod
    grpc_port: int = 0
    metrics_port: int = 0
    # The gateway's agent console (HTTP); other services do not listen on it.
    console_port: int = 0
    # Where the gateway's console reads an agent's badges and progress (achievements' gRPC).
    achievements_address: str = f"127.0.0.1:{SERVICE_PORTS['achievements'][0]}"
    tls: Tls = Tls()
    # A plaintext port that answers only gRPC health, for kubelet probes (which cannot
    # speak TLS); None: no such port.
    probe_port: int | None = None
    topics: Topics = Topics()
    topic_partitions: int = 3
    topic_replication_factor: int = 1
    kafka_security: KafkaSecurity = KafkaSecurity()
    # Kept short so the local stack stops fast; the chart sets it below the pod's grace.
    shutdown_grace_seconds: float = 5.0
    outbox_retention_seconds: float = 3600.0
    # Topics Accolade creates keep messages this long (compacted ones keep each key's last).
    topic_retention_seconds: float = 3 * 86400.0
    # Applied event ids are kept this long: longer than an event can be delivered again
    # (it can be republished from the outbox, then read from a topic that keeps it).
    inbox_retention_seconds: float = 7 * 86400.0
    # Accepted event ids are kept this long: a resend within it is answered DUPLICATE.
    intake_retention_seconds: float = 7 * 86400.0
    # Agents' notifications are kept this long, for streams that resume (at least a day).
    notification_retention_seconds: float = 2 * 86400.0
    # Per tenant and replica: events per second into intake, and reads per second; 0 is
    # no limit. A tenant's own settings override them.
    rate_limit_intake_per_second: float = 0.0
    rate_limit_reads_per_second: float = 0.0
    # How often rows past their retention are deleted.
    purge_interval_seconds: float = 60.0
    # How late an event may arrive and still count in its window: every tenant's, until
    # tenants have settings of their own.
    event_lateness_seconds: float = 72 * 3600.0
    health_interval_seconds: float = 1.0
    # The most messages a consumer applies in one transaction.
    consumer_batch_size: int = 1000
    # How long the broker may hold a fetch that finds nothing new. Kafka answers as soon
    # as data arrives; some Kafka-protocol brokers wait the whole time, so keep it short.
    kafka_fetch_max_wait_ms: int = 100
    log_format: str = "console"
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, service: str, env: Mapping[str, str]) -> Settings:
        """Reads the settings of `service` from `env`.

        Args:
            service: one of the five service names.
            env: the environment, usually `os.environ`.

        Raises:
            SettingsError: a variable is missing or malformed; the message names it.
        """
        if service not in SERVICE_PORTS:
            raise SettingsError(f"unknown service {service!r}; one of {', '.join(SERVICE_PORTS)}")
        grpc_default, metrics_default = SERVICE_PORTS[service]
        reader = _Reader(env)
        log_format = reader.text("ACCOLADE_LOG_FORMAT", "console")
        if log_format not in ("console", "json"):
            raise SettingsError(f"ACCOLADE_LOG_FORMAT must be console or json, not {log_format!r}")
        log_level = reader.text("ACCOLADE_LOG_LEVEL", "INFO").upper()
        if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise SettingsError(
                f"ACCOLADE_LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not {log_level!r}"
            )
        settings = cls(
            service=service,
            database_url=reader.required("ACCOLADE_DATABASE_URL"),
            kafka_bootstrap=reader.required("ACCOLADE_KAFKA_BOOTSTRAP"),
            grpc_host=reader.text("ACCOLADE_GRPC_HOST", "0.0.0.0"),  # noqa: S104
            grpc_port=reader.port("ACCOLADE_GRPC_PORT", grpc_default),
            metrics_port=reader.port("ACCOLADE_METRICS_PORT", metrics_default),
            console_port=reader.port("ACCOLADE_CONSOLE_PORT", CONSOLE_PORT),
            achievements_address=reader.text(
                "ACCOLADE_ACHIEVEMENTS_ADDRESS", f"127.0.0.1:{SERVICE_PORTS['achievements'][0]}"
            ),
            tls=_tls(reader),
            probe_port=(
                reader.port("ACCOLADE_PROBE_PORT", 0)
                if reader.text("ACCOLADE_PROBE_PORT", "")
                else None
            ),
            topics=Topics(reader.text("ACCOLADE_TOPIC_NAMESPACE", "accolade")),
            topic_partitions=reader.integer("ACCOLADE_TOPIC_PARTITIONS", 3, minimum=1),
            topic_replication_factor=reader.integer(
                "ACCOLADE_TOPIC_REPLICATION_FACTOR", 1, minimum=1
            ),
            kafka_security=_kafka_security(reader),
            shutdown_grace_seconds=reader.seconds("ACCOLADE_SHUTDOWN_GRACE_SECONDS", 5.0),
            outbox_retention_seconds=reader.seconds("ACCOLADE_OUTBOX_RETENTION_SECONDS", 3600.0),
            topic_retention_seconds=reader.seconds("ACCOLADE_TOPIC_RETENTION_SECONDS", 3 * 86400.0),
            inbox_retention_seconds=reader.seconds("ACCOLADE_INBOX_RETENTION_SECONDS", 7 * 86400.0),
            intake_retention_seconds=reader.seconds(
                "ACCOLADE_INTAKE_RETENTION_SECONDS", 7 * 86400.0
            ),
            notification_retention_seconds=reader.seconds(
                "ACCOLADE_NOTIFICATION_RETENTION_SECONDS", 2 * 86400.0
            ),
            rate_limit_intake_per_second=reader.number(
                "ACCOLADE_RATE_LIMIT_INTAKE_PER_SECOND", 0.0
            ),
            rate_limit_reads_per_second=reader.number("ACCOLADE_RATE_LIMIT_READS_PER_SECOND", 0.0),
            purge_interval_seconds=reader.seconds("ACCOLADE_PURGE_INTERVAL_SECONDS", 60.0),
            event_lateness_seconds=reader.seconds("ACCOLADE_EVENT_LATENESS_SECONDS", 72 * 3600.0),
            health_interval_seconds=reader.seconds("ACCOLADE_HEALTH_INTERVAL_SECONDS", 1.0),
            consumer_batch_size=reader.integer(
                "ACCOLADE_CONSUMER_BATCH_SIZE", 1000, minimum=1, maximum=10_000
            ),
            kafka_fetch_max_wait_ms=reader.integer(
                "ACCOLADE_KAFKA_FETCH_MAX_WAIT_MS",
                100,
                minimum=0,
                maximum=60_000,
            ),
            log_format=log_format,
            log_level=log_level,
        )
        if settings.purge_interval_seconds <= 0:
            raise SettingsError("ACCOLADE_PURGE_INTERVAL_SECONDS must be more than 0")
        if settings.event_lateness_seconds <= 0:
            raise SettingsError("ACCOLADE_EVENT_LATENESS_SECONDS must be more than 0")
        redelivery = settings.outbox_retention_seconds + settings.topic_retention_seconds
        if settings.inbox_retention_seconds <= redelivery:
            # An event can come again until it leaves the outbox and then the topic; an
            # inbox that forgot it by then would apply it twice.
            raise SettingsError(
                "ACCOLADE_INBOX_RETENTION_SECONDS must be longer than "
                "ACCOLADE_OUTBOX_RETENTION_SECONDS plus ACCOLADE_TOPIC_RETENTION_SECONDS "
                f"({redelivery:g} s), not {settings.inbox_retention_seconds:g}"
            )
        return settings


def _tls(reader: _Reader) -> Tls:
    tls = Tls(
        cert_file=reader.text("ACCOLADE_TLS_CERT_FILE", ""),
        key_file=reader.text("ACCOLADE_TLS_KEY_FILE", ""),
        ca_file=reader.text("ACCOLADE_TLS_CA_FILE", ""),
    )
    if bool(tls.cert_file) != bool(tls.key_file):
        missing = "ACCOLADE_TLS_KEY_FILE" if tls.cert_file else "ACCOLADE_TLS_CERT_FILE"
        raise SettingsError(
            f"{missing} is required with "
            f"{'ACCOLADE_TLS_CERT_FILE' if tls.cert_file else 'ACCOLADE_TLS_KEY_FILE'}"
        )
    return tls


def _kafka_security(reader: _Reader) -> KafkaSecurity:
    protocol = reader.text("ACCOLADE_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT").upper()
    if protocol not in _SECURITY_PROTOCOLS:
        raise SettingsError(
            f"ACCOLADE_KAFKA_SECURITY_PROTOCOL must be one of {', '.join(_SECURITY_PROTOCOLS)}, "
            f"not {protocol!r}"
        )
    security = KafkaSecurity(
        protocol=protocol, ssl_cafile=reader.text("ACCOLADE_KAFKA_SSL_CAFILE", "")
    )
    if not protocol.startswith("SASL_"):
        return security
    mechanism = reader.text("ACCOLADE_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512").upper()
    if mechanism not in _SASL_MECHANISMS:
        raise SettingsError(
            f"ACCOLADE_KAFKA_SASL_MECHANISM must be one of {', '.join(_SASL_MECHANISMS)}, "
            f"not {mechanism!r}"
        )
    return dataclasses.replace(
        security,
        sasl_mechanism=mechanism,
        sasl_username=reader.required("ACCOLADE_KAFKA_SASL_USERNAME"),
        sasl_password=reader.required("ACCOLADE_KAFKA_SASL_PASSWORD"),
    )


@dataclasses.dataclass(frozen=True, slots=True)
class _Reader:
    env: Mapping[str, str]

    def required(self, name: str) -> str:
        value = self.env.get(name, "").strip()
        if not value:
            raise SettingsError(f"{name} is required and not set")
        return value

    def text(self, name: str, default: str) -> str:
        return self.env.get(name, "").strip() or default

    def integer(
        self, name: str, default: int, *, minimum: int = 0, maximum: int | None = None
    ) -> int:
        raw = self.env.get(name, "").strip()
        if not raw:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(f"{name} must be an integer, not {raw!r}") from None
        if value < minimum or (maximum is not None and value > maximum):
            bounds = f">= {minimum}" if maximum is None else f"between {minimum} and {maximum}"
            raise SettingsError(f"{name} must be {bounds}, not {value}")
        return value

    def port(self, name: str, default: int) -> int:
        return self.integer(name, default, minimum=0, maximum=65535)

    def number(self, name: str, default: float) -> float:
        return self._finite(name, default, "a number")

    def seconds(self, name: str, default: float) -> float:
        return self._finite(name, default, "a number of seconds")

    def _finite(self, name: str, default: float, what: str) -> float:
        raw = self.env.get(name, "").strip()
        if not raw:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise SettingsError(f"{name} must be {what}, not {raw!r}") from None
        if not math.isfinite(value):
            raise SettingsError(f"{name} must be a finite {what.removeprefix('a ')}, not {raw!r}")
        if value < 0:
            raise SettingsError(f"{name} must not be negative, not {value}")
        return value
