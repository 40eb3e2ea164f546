"""The `accolade` command's own behaviour: settings errors and migrations."""

from __future__ import annotations

import os
import subprocess
import sys

import asyncpg

from accolade import catalog
from accolade.runtime.server import migrations_for
from conftest import Infra


def accolade(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "accolade.cli", *args],
        env={k: v for k, v in {**os.environ, **env}.items() if v is not None},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_serve_names_the_missing_variable_and_exits_at_once() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCOLADE_")}
    result = subprocess.run(
        [sys.executable, "-m", "accolade.cli", "serve", "gateway"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "ACCOLADE_DATABASE_URL is required" in result.stderr


def test_serve_names_a_malformed_variable() -> None:
    result = accolade(
        "serve",
        "leaderboards",
        env={
            "ACCOLADE_DATABASE_URL": "postgresql://x",
            "ACCOLADE_KAFKA_BOOTSTRAP": "x:1",
            "ACCOLADE_GRPC_PORT": "fifty",
        },
    )
    assert result.returncode == 2
    assert "ACCOLADE_GRPC_PORT must be an integer" in result.stderr


async def test_migrate_creates_every_schema_once(
    database_url: str, infra: Infra, namespace: str
) -> None:
    env = {
        "ACCOLADE_DATABASE_URL": database_url,
        "ACCOLADE_KAFKA_BOOTSTRAP": infra.bootstrap,
        "ACCOLADE_TOPIC_NAMESPACE": namespace,
    }
    first = accolade("migrate", env=env)
    second = accolade("migrate", env=env)
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT table_schema, count(*) AS n FROM information_schema.tables "
            "WHERE table_name = 'schema_migrations' GROUP BY table_schema"
        )
        applied = {
            s: await conn.fetchval(f'SELECT count(*) FROM "{s}".schema_migrations')
            for s in ("gateway", "feedback", "achievements", "challenges", "leaderboards")
        }
    finally:
        await conn.close()
    assert {r["table_schema"] for r in rows} == set(applied)
    # The runtime's migrations and the service's own, each once.
    assert applied == {s: len(migrations_for(catalog.load(s))) for s in applied}
