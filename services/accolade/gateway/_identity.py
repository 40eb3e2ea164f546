"""Tenants and API keys: stored by the gateway, published on the compacted identity topic.

Every change is written with its identity message in one transaction (the outbox), so
what the services authenticate with never differs from what is stored for longer than
the relay takes. The operator commands (`accolade tenants`, `accolade keys`) call these
functions with the gateway's database; they are its only writers.
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from datetime import datetime

import asyncpg

from accolade.rules import calendar
from accolade.runtime import identity, outbox
from accolade.runtime.errors import NotFound
from accolade.runtime.identity import ADMIN, AGENT, INTEGRATION, MANAGER, OPS
from accolade.runtime.validation import Violations
from accolade.v1 import events_pb2

DEFAULT_LATENESS = 72 * 3600
MAX_NAME = 200
# Identity event ids derive from what changed: publishing the same state again keeps them.
_NAMESPACE = uuid.UUID("9b7f3c52-4e8d-4a1b-b0f6-3c1d2e5a7f90")
_TENANT_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


@dataclasses.dataclass(frozen=True, slots=True)
class KeyRow:
    """A key as listed: never its secret."""

    key_id: str
    tenant_id: str
    role: int
    agent_id: str
    team_id: str
    label: str
    created_at: datetime
    revoked_at: datetime | None


def validate_tenant(
    tenant_id: str,
    display_name: str,
    time_zone: str,
    week_start: int,
    lateness: int,
    intake_per_second: float = 0.0,
    reads_per_second: float = 0.0,
) -> None:
    """Checks a tenant's fields, naming each one at fault."""
    v = Violations()
    if not _TENANT_ID.match(tenant_id):
        v.add(
            "tenant_id",
            "must be 1-63 lower-case letters, digits or dashes, not starting with a dash",
        )
    if not display_name.strip() or len(display_name) > MAX_NAME:
        v.add("display_name", f"must be 1-{MAX_NAME} characters")
    try:
        calendar.zone(time_zone)
    except ValueError as exc:
        v.add("time_zone", str(exc))
    if not 1 <= week_start <= 7:
        v.add("week_start", "must be 1 (Monday) to 7 (Sunday)")
    if lateness < 0:
        v.add("lateness", "must not be negative")
    for name, rate in (
        ("intake_per_second", intake_per_second),
        ("reads_per_second", reads_per_second),
    ):
        if rate < 0:
            v.add(name, "must not be negative (0 is the services' default)")
    v.check()


def _tenant_row(topic: str, r: asyncpg.Record) -> outbox.Row:
    e = identity.message(
        r["tenant_id"],
        str(uuid.uuid5(_NAMESPACE, f"{r['tenant_id']}/tenant/{r['version']}")),
        tenant_changed=events_pb2.TenantChanged(
            display_name=r["display_name"],
            time_zone=r["time_zone"],
            week_start=r["week_start"],
            lateness_seconds=r["lateness_seconds"],
            version=r["version"],
            intake_per_second=r["intake_per_second"],
            reads_per_second=r["reads_per_second"],
            session_secret=r["session_secret"],
        ),
    )
    return outbox.Row(topic, identity.message_key(e), e.event_id, e.SerializeToString())


def _key_row(topic: str, r: asyncpg.Record) -> outbox.Row:
    state = "revoked" if r["revoked_at"] else "active"
    key = events_pb2.ApiKeyChanged(
        key_id=r["key_id"],
        role=r["role"],
        agent_id=r["agent_id"],
        team_id=r["team_id"],
        secret_sha256=r["secret_sha256"],
        label=r["label"],
    )
    if r["revoked_at"]:
        key.revoked_at.FromDatetime(r["revoked_at"])
    e = identity.message(
        r["tenant_id"],
        str(uuid.uuid5(_NAMESPACE, f"{r['tenant_id']}/key/{r['key_id']}/{state}")),
        api_key_changed=key,
    )
    return outbox.Row(topic, identity.message_key(e), e.event_id, e.SerializeToString())


async def create_tenant(
    conn: asyncpg.Connection,
    topic: str,
    tenant_id: str,
    display_name: str,
    time_zone: str = "UTC",
    week_start: int = 1,
    lateness: int = DEFAULT_LATENESS,
    *,
    intake_per_second: float = 0.0,
    reads_per_second: float = 0.0,
) -> bool:
    """Creates a tenant, or updates its settings; True when it is new."""
    validate_tenant(
        tenant_id,
        display_name,
        time_zone,
        week_start,
        lateness,
        intake_per_second,
        reads_per_second,
    )
    async with conn.transaction():
        row = await conn.fetchrow(
            "INSERT INTO tenants (tenant_id, display_name, time_zone, week_start, "
            "  lateness_seconds, intake_per_second, reads_per_second) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7) "
            "ON CONFLICT (tenant_id) DO UPDATE SET display_name = EXCLUDED.display_name, "
            "  time_zone = EXCLUDED.time_zone, week_start = EXCLUDED.week_start, "
            "  lateness_seconds = EXCLUDED.lateness_seconds, "
            "  intake_per_second = EXCLUDED.intake_per_second, "
            "  reads_per_second = EXCLUDED.reads_per_second, version = tenants.version + 1 "
            "RETURNING *, (xmax = 0) AS created",
            tenant_id,
            display_name,
            time_zone,
            week_start,
            lateness,
            float(intake_per_second),
            float(reads_per_second),
        )
        await outbox.write(conn, [_tenant_row(topic, row)])
    return bool(row["created"])


async def publish_session_secrets(conn: asyncpg.Connection, topic: str) -> int:
    """Publishes again, as a new version, each tenant whose session secret the identity
    topic does not carry yet (tenants made before secrets existed); returns how many."""
    async with conn.transaction():
        rows = await conn.fetch(
            "UPDATE tenants SET secret_published = true, version = version + 1 "
            "WHERE NOT secret_published RETURNING *"
        )
        await outbox.write(conn, [_tenant_row(topic, r) for r in rows])
    return len(rows)


async def list_tenants(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Every tenant, with how many keys it has that are not revoked."""
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT t.*, (SELECT count(*) FROM api_keys k WHERE k.tenant_id = t.tenant_id "
        "  AND k.revoked_at IS NULL) AS keys FROM tenants t ORDER BY t.tenant_id"
    )
    return rows


def validate_key(role: int, agent_id: str, team_id: str) -> None:
    """Checks a key's scope: agent keys name an agent, manager keys a team, others neither."""
    v = Violations()
    if role not in (INTEGRATION, AGENT, MANAGER, ADMIN, OPS):
        v.add("role", f"must be one of {', '.join(identity.ROLE_NAMES)}")
    if role == AGENT:
        v.identifier("agent_id", agent_id)
    elif agent_id:
        v.add("agent_id", "only agent keys name an agent")
    if role == MANAGER:
        v.identifier("team_id", team_id)
    elif team_id:
        v.add("team_id", "only manager keys name a team")
    v.check()


async def create_key(
    conn: asyncpg.Connection,
    topic: str,
    tenant_id: str,
    role: int,
    *,
    agent_id: str = "",
    team_id: str = "",
    label: str = "",
) -> tuple[KeyRow, str]:
    """Makes a key; returns it and its token, which is shown once and never stored."""
    validate_key(role, agent_id, team_id)
    made = identity.new_key()
    async with conn.transaction():
        if not await conn.fetchval("SELECT true FROM tenants WHERE tenant_id = $1", tenant_id):
            raise NotFound(f"no tenant {tenant_id!r}: create it with `accolade tenants create`")
        row = await conn.fetchrow(
            "INSERT INTO api_keys (key_id, tenant_id, role, agent_id, team_id, label, secret_sha256) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *",
            made.key_id,
            tenant_id,
            role,
            agent_id,
            team_id,
            label,
            made.secret_sha256,
        )
        await outbox.write(conn, [_key_row(topic, row)])
    return _key(row), made.token


async def revoke_key(conn: asyncpg.Connection, topic: str, key_id: str) -> KeyRow:
    """Revokes a key everywhere (within seconds: as soon as the services read it). A key
    revoked already stays as it was, and nothing is published again."""
    async with conn.transaction():
        row = await conn.fetchrow(
            "UPDATE api_keys SET revoked_at = now() WHERE key_id = $1 AND revoked_at IS NULL "
            "RETURNING *",
            key_id,
        )
        if row is not None:
            await outbox.write(conn, [_key_row(topic, row)])
            return _key(row)
        row = await conn.fetchrow("SELECT * FROM api_keys WHERE key_id = $1", key_id)
        if row is None:
            raise NotFound(f"no key {key_id!r}")
    return _key(row)


async def list_keys(conn: asyncpg.Connection, tenant_id: str | None = None) -> list[KeyRow]:
    """The keys of one tenant (or all), oldest first."""
    rows = await conn.fetch(
        "SELECT * FROM api_keys WHERE $1::text IS NULL OR tenant_id = $1 "
        "ORDER BY tenant_id, created_at, key_id",
        tenant_id,
    )
    return [_key(r) for r in rows]


def _key(r: asyncpg.Record) -> KeyRow:
    return KeyRow(
        r["key_id"],
        r["tenant_id"],
        r["role"],
        r["agent_id"],
        r["team_id"],
        r["label"],
        r["created_at"],
        r["revoked_at"],
    )
