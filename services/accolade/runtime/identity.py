"""Who is calling: API keys, the tenants they belong to, and the ring every service keeps.

The gateway owns tenants and keys and publishes every change on the compacted identity
topic. Every service follows that topic from its beginning and keeps every key in
memory (the `KeyRing`), so a call is authenticated without a database or network round
trip, and without any service reading another's tables. A key is
`acc_<key id>_<secret>`; only the SHA-256 of its secret is stored and published.

An agent session token (`acs_...`) is minted by an integration or admin key for one
agent and a few hours, for an agent's console: it names its tenant, agent, expiry and
the key that minted it, signed with HMAC-SHA256 by the tenant's session secret (carried
on the identity topic like the rest of the tenant). It is checked without any lookup
but the ring's, stops at its expiry, and stops at once when the key that minted it is
revoked.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import hmac
import logging
import re
import secrets
import time
from base64 import urlsafe_b64decode, urlsafe_b64encode
from collections.abc import Callable
from typing import Any, Final

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from google.protobuf.message import DecodeError
from prometheus_client import Gauge

from accolade.v1 import envelope_pb2, events_pb2

log = logging.getLogger(__name__)

Role = events_pb2.Role
INTEGRATION: Final = events_pb2.ROLE_INTEGRATION
AGENT: Final = events_pb2.ROLE_AGENT
MANAGER: Final = events_pb2.ROLE_MANAGER
ADMIN: Final = events_pb2.ROLE_ADMIN
OPS: Final = events_pb2.ROLE_OPS
# The names the CLI and the docs use.
ROLE_NAMES: Final[dict[str, int]] = {
    "integration": INTEGRATION,
    "agent": AGENT,
    "manager": MANAGER,
    "admin": ADMIN,
    "ops": OPS,
}
NAME_OF: Final[dict[int, str]] = {v: k for k, v in ROLE_NAMES.items()}

_KEY = re.compile(r"^acc_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")
SESSION_PREFIX: Final = "acs_"
# Longest and default life of an agent session token: a shift, and an hour.
MAX_SESSION_SECONDS: Final = 12 * 3600
DEFAULT_SESSION_SECONDS: Final = 3600
# The roles whose keys may mint agent sessions.
MINTERS: Final = frozenset({INTEGRATION, ADMIN})


@dataclasses.dataclass(frozen=True, slots=True)
class Principal:
    """The caller a key stands for."""

    tenant_id: str
    role: int
    key_id: str
    agent_id: str = ""
    team_id: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class Tenant:
    """A tenant's settings, as every service knows them."""

    tenant_id: str
    display_name: str
    time_zone: str
    week_start: int
    lateness_seconds: int
    version: int
    intake_per_second: float = 0.0
    reads_per_second: float = 0.0
    session_secret: bytes = dataclasses.field(default=b"", repr=False)


@dataclasses.dataclass(frozen=True, slots=True)
class NewKey:
    """A key just made: the token is shown once, only the hash is kept."""

    key_id: str
    token: str
    secret_sha256: bytes


def new_key() -> NewKey:
    """A random key: a 64-bit public id and a 256-bit secret."""
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return NewKey(key_id, f"acc_{key_id}_{secret}", hashlib.sha256(secret.encode()).digest())


def key_id_of(token: str) -> str | None:
    """The public id of a key; None when `token` is not a key."""
    match = _KEY.match(token)
    return match.group(1) if match else None


def _signed(secret: bytes, payload: bytes) -> bytes:
    return hmac.new(secret, b"accolade-session-v1\n" + payload, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return urlsafe_b64encode(data).rstrip(b"=").decode()


def session_token(
    secret: bytes, tenant_id: str, agent_id: str, minted_by: str, expires_at: int
) -> str:
    """An agent session token, valid until `expires_at` (seconds since the epoch)."""
    payload = "\n".join((tenant_id, agent_id, minted_by, str(expires_at))).encode()
    return f"{SESSION_PREFIX}{_b64(payload)}.{_b64(_signed(secret, payload))}"


def _unb64(text: str) -> bytes:
    return urlsafe_b64decode(text + "=" * (-len(text) % 4))


def message(tenant_id: str, event_id: str, **payload: Any) -> envelope_pb2.Envelope:
    """An identity message: `tenant_changed=` or `api_key_changed=`, stamped now."""
    e = envelope_pb2.Envelope(event_id=event_id, tenant_id=tenant_id, **payload)
    e.occurred_at.GetCurrentTime()
    e.recorded_at.CopyFrom(e.occurred_at)
    return e


def message_key(envelope: envelope_pb2.Envelope) -> bytes:
    """The Kafka key of an identity message: one per tenant and one per key, so the
    compacted topic keeps the latest of each."""
    if envelope.WhichOneof("payload") == "api_key_changed":
        return f"{envelope.tenant_id}/key:{envelope.api_key_changed.key_id}".encode()
    return f"{envelope.tenant_id}/tenant".encode()


@dataclasses.dataclass(slots=True)
class _Known:
    principal: Principal
    secret_sha256: bytes
    revoked: bool


class KeyRing:
    """Every key and tenant, kept up to date from the identity topic."""

    def __init__(self) -> None:
        self._keys: dict[str, _Known] = {}
        self._tenants: dict[str, Tenant] = {}
        # True once everything the topic held when following began has been read.
        self.loaded = False

    def authenticate(self, token: str) -> Principal | None:
        """The caller `token` stands for; None for a malformed, unknown or revoked key, or
        a session token that is forged, expired or minted by a key since revoked."""
        if token.startswith(SESSION_PREFIX):
            return self._session(token)
        match = _KEY.match(token)  # (key_id_of, and the secret)
        if match is None:
            return None
        known = self._keys.get(match.group(1))
        if known is None or known.revoked:
            return None
        digest = hashlib.sha256(match.group(2).encode()).digest()
        if not hmac.compare_digest(digest, known.secret_sha256):
            return None
        return known.principal

    def _session(self, token: str) -> Principal | None:
        payload_text, _, mac_text = token[len(SESSION_PREFIX) :].partition(".")
        try:
            payload, mac = _unb64(payload_text), _unb64(mac_text)
            tenant_id, agent_id, minted_by, expiry = payload.decode().split("\n")
            expires_at = int(expiry)
        except ValueError:  # bad base64, bad UTF-8, wrong number of fields, bad number
            return None
        tenant = self._tenants.get(tenant_id)
        if tenant is None or not tenant.session_secret:
            return None
        if not hmac.compare_digest(mac, _signed(tenant.session_secret, payload)):
            return None
        minter = self._keys.get(minted_by)
        if (
            expires_at <= time.time()
            or minter is None
            or minter.revoked
            or minter.principal.tenant_id != tenant_id
            or minter.principal.role not in MINTERS
        ):
            return None
        return Principal(tenant_id, AGENT, f"session:{minted_by}", agent_id)

    def tenant(self, tenant_id: str) -> Tenant | None:
        """The tenant's settings, or None when no such tenant is known."""
        return self._tenants.get(tenant_id)

    def active_keys(self) -> int:
        """How many keys are known and not revoked."""
        return sum(not k.revoked for k in self._keys.values())

    def apply(self, envelope: envelope_pb2.Envelope) -> None:
        """Takes in one message of the identity topic.

        Messages may come again, and out of date (the topic is read from its beginning
        after a broker lost its log and the gateway published it again): a revocation is
        final, and a tenant never goes back to an older version.
        """
        kind = envelope.WhichOneof("payload")
        if kind == "api_key_changed":
            k = envelope.api_key_changed
            known = self._keys.get(k.key_id)
            revoked = k.HasField("revoked_at") or (known is not None and known.revoked)
            self._keys[k.key_id] = _Known(
                Principal(envelope.tenant_id, k.role, k.key_id, k.agent_id, k.team_id),
                k.secret_sha256,
                revoked,
            )
        elif kind == "tenant_changed":
            t = envelope.tenant_changed
            current = self._tenants.get(envelope.tenant_id)
            if current is None or t.version >= current.version:
                self._tenants[envelope.tenant_id] = Tenant(
                    envelope.tenant_id,
                    t.display_name,
                    t.time_zone,
                    t.week_start,
                    t.lateness_seconds,
                    t.version,
                    t.intake_per_second,
                    t.reads_per_second,
                    t.session_secret,
                )


class IdentityFollower:
    """Reads the identity topic into a `KeyRing`, from its beginning, then live.

    It reads every partition outside any consumer group: every service needs every
    message, and reads them all again at each start. `run` is supervised by the runtime: if it fails it starts again with a new
    consumer and reads the topic again, keeping what the ring already knows meanwhile,
    so calls go on being authenticated during a broker outage with the keys as they
    were when it began.
    """

    def __init__(
        self,
        ring: KeyRing,
        consumer: Callable[[], AIOKafkaConsumer],
        producer: AIOKafkaProducer,
        topic: str,
        keys_gauge: Gauge,
        *,
        refresh_seconds: float = 5.0,
    ) -> None:
        self._ring = ring
        self._new_consumer = consumer
        self._producer = producer
        self._topic = topic
        self._keys_gauge = keys_gauge
        self._refresh_seconds = refresh_seconds

    async def run(self) -> None:
        """Follows the topic until cancelled; raises when following it fails."""
        consumer = self._new_consumer()
        await consumer.start()
        try:
            await self._follow(consumer)
        finally:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(5):
                    await consumer.stop()

    async def _assign(self, consumer: AIOKafkaConsumer) -> dict[TopicPartition, int]:
        """Assigns partitions not yet followed, from their beginning; their end offsets."""
        cluster = await self._producer.client.fetch_all_metadata()
        wanted = {
            TopicPartition(self._topic, p) for p in cluster.partitions_for_topic(self._topic) or ()
        }
        new = wanted - consumer.assignment()
        if not new:
            return {}
        kept = {tp: await consumer.position(tp) for tp in wanted & consumer.assignment()}
        consumer.assign(sorted(wanted))
        for tp, position in kept.items():
            consumer.seek(tp, position)
        await consumer.seek_to_beginning(*new)
        ends: dict[TopicPartition, int] = await consumer.end_offsets(list(new))
        return ends

    async def _follow(self, consumer: AIOKafkaConsumer) -> None:
        loop = asyncio.get_running_loop()
        next_refresh = 0.0
        to_load: dict[TopicPartition, int] = {}
        while True:
            if loop.time() >= next_refresh:
                to_load.update(await self._assign(consumer))
                next_refresh = loop.time() + self._refresh_seconds
            if not consumer.assignment():
                await asyncio.sleep(0.2)
                continue
            batch = await consumer.getmany(timeout_ms=1000)
            for records in batch.values():
                for record in records:
                    envelope = envelope_pb2.Envelope()
                    try:
                        envelope.ParseFromString(record.value or b"")
                    except DecodeError:
                        log.warning("skipping undecodable identity message")
                        continue
                    # Identity messages are about a tenant, not an agent: no agent id.
                    if envelope.tenant_id:
                        self._ring.apply(envelope)
            if batch:
                self._keys_gauge.set(self._ring.active_keys())
            for tp in [tp for tp, end in to_load.items() if await consumer.position(tp) >= end]:
                del to_load[tp]
            if not to_load and not self._ring.loaded:
                self._ring.loaded = True
                log.info("identity loaded", extra={"keys": self._ring.active_keys()})
