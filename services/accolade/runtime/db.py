"""PostgreSQL access: a pool per service bound to its schema, and versioned migrations."""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Sequence
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

import asyncpg

log = logging.getLogger(__name__)

_MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclasses.dataclass(frozen=True, slots=True)
class Migration:
    """One SQL file of a component, applied once per schema."""

    component: str
    version: int
    name: str
    sql: str


def load_migrations(component: str, package: str) -> list[Migration]:
    """Reads `<package>/migrations/NNNN_name.sql` in version order.

    Raises:
        ValueError: a file is misnamed or two files share a version.
    """
    folder: Traversable = resources.files(package) / "migrations"
    found: dict[int, Migration] = {}
    for entry in folder.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _MIGRATION_NAME.match(entry.name)
        if match is None:
            raise ValueError(f"{package}: migration {entry.name!r} is not named NNNN_name.sql")
        version = int(match.group(1))
        if version in found:
            raise ValueError(f"{package}: two migrations with version {version}")
        found[version] = Migration(component, version, match.group(2), entry.read_text())
    return [found[v] for v in sorted(found)]


async def migrate(conn: asyncpg.Connection, schema: str, migrations: list[Migration]) -> int:
    """Applies the migrations `schema` lacks, in one transaction, under an advisory lock.

    Several processes may migrate the same schema at once; the lock makes them take turns.

    Returns:
        How many migrations were applied.
    """
    applied = 0
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"migrate:{schema}")
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        await conn.execute(f'SET LOCAL search_path TO "{schema}"')
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   component text NOT NULL,
                   version integer NOT NULL,
                   name text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now(),
                   PRIMARY KEY (component, version))"""
        )
        done = {
            (r["component"], r["version"])
            for r in await conn.fetch("SELECT component, version FROM schema_migrations")
        }
        for m in migrations:
            if (m.component, m.version) in done:
                continue
            log.info(
                "applying migration",
                extra={"schema": schema, "migration": f"{m.component}/{m.version:04d}_{m.name}"},
            )
            await conn.execute(m.sql)
            await conn.execute(
                "INSERT INTO schema_migrations (component, version, name) VALUES ($1, $2, $3)",
                m.component,
                m.version,
                m.name,
            )
            applied += 1
    return applied


def columns(rows: Sequence[Sequence[Any]], width: int) -> list[list[Any]]:
    """`rows` as one list per column, for `unnest($1::t[], $2::u[], ...)` (set-based writes)."""
    return [[row[i] for row in rows] for i in range(width)]


async def create_pool(
    dsn: str, schema: str, *, application: str, max_size: int = 10
) -> asyncpg.Pool:
    """A pool whose connections see `schema` first on their search path.

    A connection goes back to the pool without the usual reset query (unlisten, unlock,
    reset settings): that is a round trip on every release, and the services leave no
    session state behind. Code that listens, takes session locks or sets session
    settings must undo them before releasing the connection (the outbox relay does).
    """
    return await asyncpg.create_pool(
        dsn,
        # No connection at start: a service comes up NOT_SERVING while PostgreSQL is away.
        min_size=0,
        max_size=max_size,
        server_settings={"search_path": schema, "application_name": application},
        reset=_no_reset,
    )


async def _no_reset(conn: asyncpg.Connection) -> None:
    # The pool still rolls back an open transaction and drops listener callbacks first.
    return None
