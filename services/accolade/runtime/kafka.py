"""Kafka plumbing shared by every service: clients, topics and envelope keys."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.helpers import create_ssl_context

from accolade.runtime.settings import Settings
from accolade.v1 import envelope_pb2

log = logging.getLogger(__name__)


def envelope_key(envelope: envelope_pb2.Envelope) -> bytes:
    """The Kafka key: one agent's events share a partition and so stay in order."""
    return f"{envelope.tenant_id}/{envelope.agent_id}".encode()


def connection(settings: Settings, role: str) -> dict[str, Any]:
    """The client options every Kafka client of a service shares: address, identity, security."""
    security = settings.kafka_security
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap,
        "client_id": f"accolade-{settings.service}{role}",
        "security_protocol": security.protocol,
    }
    if security.protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = create_ssl_context(cafile=security.ssl_cafile or None)
    if security.protocol.startswith("SASL_"):
        options.update(
            sasl_mechanism=security.sasl_mechanism,
            sasl_plain_username=security.sasl_username,
            sasl_plain_password=security.sasl_password,
        )
    return options


def producer(settings: Settings) -> AIOKafkaProducer:
    """A producer that waits for every in-sync replica.

    Idempotent production stays off: the outbox and the consumers' inbox already give
    exactly-once effects, and some Kafka-protocol brokers reject its handshake.
    """
    return AIOKafkaProducer(
        **connection(settings, ""),
        acks="all",
        linger_ms=5,
        # The relay sends a partition's share of a batch as one record batch.
        max_batch_size=512 * 1024,
        request_timeout_ms=10_000,
        retry_backoff_ms=200,
    )


def group_consumer(settings: Settings, group: str, *, start: str = "earliest") -> AIOKafkaConsumer:
    """A consumer-group member that commits only when told to; subscribe it before start.

    Args:
        settings: the service's settings.
        group: the consumer group id.
        start: where a partition with no committed offset starts, "earliest" or "latest".
    """
    return AIOKafkaConsumer(
        **connection(settings, ""),
        group_id=group,
        enable_auto_commit=False,
        # Inbox consumers start from the beginning when they find no committed offset: the
        # broker may have lost its log and offsets, and the inbox makes re-reading harmless.
        auto_offset_reset=start,
        max_poll_records=settings.consumer_batch_size,
        fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
        retry_backoff_ms=200,
        metadata_max_age_ms=5_000,
        # A member that sends no heartbeat for this long leaves the group; heartbeats go
        # from a task of their own, and a member rejoins once its batch in flight is
        # committed (well under a second). 6 s is the least Kafka brokers allow by default;
        # the embedded broker holds every join for half of it, so the 10 s default made
        # each start take 5 s.
        session_timeout_ms=6_000,
        heartbeat_interval_ms=2_000,
        rebalance_timeout_ms=6_000,
    )


def tail_consumer(
    settings: Settings, *, start: str = "latest", fetch_max_wait_ms: int | None = None
) -> AIOKafkaConsumer:
    """A consumer outside any group, for reading end offsets or following topics live.

    `start` is where it goes when its position is gone from the log ("earliest" for a
    reader of a whole compacted topic, which a broker that lost its log has shortened).
    `fetch_max_wait_ms` is how long the broker may hold a fetch that finds nothing: a
    reader of a quiet topic asks less often with a longer one.
    """
    return AIOKafkaConsumer(
        **connection(settings, "-tail"),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset=start,
        fetch_max_wait_ms=fetch_max_wait_ms or settings.kafka_fetch_max_wait_ms,
        retry_backoff_ms=200,
        metadata_max_age_ms=5_000,
    )


async def ensure_topics(settings: Settings, extra: Iterable[str] = ()) -> None:
    """Creates the shared topics (and `extra` ones) that do not exist yet."""
    admin = AIOKafkaAdminClient(**connection(settings, "-admin"))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [*settings.topics.all(), *extra]
        compacted = set(settings.topics.compacted())
        # A compacted topic keeps each key's latest message; the others keep messages for
        # the retention, which the consumers' inbox retention must outlast.
        retention_ms = str(int(settings.topic_retention_seconds * 1000))
        missing = [
            NewTopic(
                name,
                settings.topic_partitions,
                settings.topic_replication_factor,
                topic_configs={"cleanup.policy": "compact"}
                if name in compacted
                else {"retention.ms": retention_ms},
            )
            for name in wanted
            if name not in existing
        ]
        if missing:
            await admin.create_topics(missing)
            log.info("created topics", extra={"topics": ",".join(t.name for t in missing)})
    finally:
        await admin.close()
