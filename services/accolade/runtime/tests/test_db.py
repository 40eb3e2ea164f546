"""Versioned migrations: file naming, ordering, and applying each exactly once."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import asyncpg
import pytest

from accolade.runtime import db

WIDGETS = {
    "0001_widgets.sql": "CREATE TABLE widgets (id int PRIMARY KEY, name text NOT NULL);",
    "0002_first_widget.sql": "INSERT INTO widgets VALUES (1, 'first');",
}


@pytest.fixture
def migrations_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Writes an importable package holding `migrations/` with the given files."""

    def write(files: dict[str, str]) -> str:
        name = f"migrations_{uuid.uuid4().hex[:10]}"
        folder = tmp_path / name / "migrations"
        folder.mkdir(parents=True)
        (tmp_path / name / "__init__.py").write_text("")
        for filename, sql in files.items():
            (folder / filename).write_text(sql)
        return name

    monkeypatch.syspath_prepend(str(tmp_path))
    return write


def test_migrations_load_in_version_order(migrations_package) -> None:
    package = migrations_package(
        {
            "0010_tenth.sql": "SELECT 10;",
            "0002_second.sql": "SELECT 2;",
            "0001_first.sql": "SELECT 1;",
            "README.md": "not a migration",
        }
    )

    loaded = db.load_migrations("widgets", package)

    assert [(m.component, m.version, m.name) for m in loaded] == [
        ("widgets", 1, "first"),
        ("widgets", 2, "second"),
        ("widgets", 10, "tenth"),
    ]
    assert loaded[2].sql == "SELECT 10;"


@pytest.mark.parametrize(
    "filename", ["1_short.sql", "0003-dash.sql", "0003_Upper.sql", "abcd_x.sql"]
)
def test_a_misnamed_migration_is_refused_by_name(migrations_package, filename: str) -> None:
    package = migrations_package({"0001_fine.sql": "SELECT 1;", filename: "SELECT 2;"})

    with pytest.raises(ValueError, match=f"'{filename}' is not named NNNN_name.sql"):
        db.load_migrations("widgets", package)


def test_two_migrations_with_one_version_are_refused(migrations_package) -> None:
    package = migrations_package({"0001_a.sql": "SELECT 1;", "0001_b.sql": "SELECT 2;"})

    with pytest.raises(ValueError, match="two migrations with version 1"):
        db.load_migrations("widgets", package)


async def test_migrate_applies_each_migration_once_and_later_only_new_ones(
    database_url: str, migrations_package
) -> None:
    runtime = db.load_migrations("runtime", "accolade.runtime")
    first = db.load_migrations("widgets", migrations_package(WIDGETS))
    grown = db.load_migrations(
        "widgets",
        migrations_package(
            {**WIDGETS, "0003_second_widget.sql": "INSERT INTO widgets VALUES (2, 'second');"}
        ),
    )
    conn = await asyncpg.connect(database_url)
    try:
        assert await db.migrate(conn, "svc", [*runtime, *first]) == len(runtime) + 2
        assert await db.migrate(conn, "svc", [*runtime, *first]) == 0
        assert await db.migrate(conn, "svc", [*runtime, *grown]) == 1
        # Another schema is migrated on its own, even with the same components.
        assert await db.migrate(conn, "other", [*runtime, *first]) == len(runtime) + 2

        widgets = await conn.fetch("SELECT id FROM svc.widgets ORDER BY id")
        recorded = await conn.fetch(
            "SELECT component, version, name FROM svc.schema_migrations ORDER BY component, version"
        )
        runtime_tables = await conn.fetchval(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'other' "
            "AND table_name IN ('outbox', 'applied_events', 'dead_letters')"
        )
    finally:
        await conn.close()
    assert [r["id"] for r in widgets] == [1, 2]
    assert [tuple(r) for r in recorded] == [
        *(("runtime", m.version, m.name) for m in runtime),
        ("widgets", 1, "widgets"),
        ("widgets", 2, "first_widget"),
        ("widgets", 3, "second_widget"),
    ]
    assert runtime_tables == 3


async def test_concurrent_migrations_of_one_schema_take_turns(
    database_url: str, migrations_package
) -> None:
    # The sleep keeps the first migrator inside its transaction while the second arrives.
    slow = {"0000_slow.sql": "SELECT pg_sleep(0.5);", **WIDGETS}
    migrations = [
        *db.load_migrations("runtime", "accolade.runtime"),
        *db.load_migrations("widgets", migrations_package(slow)),
    ]
    first, second = await asyncpg.connect(database_url), await asyncpg.connect(database_url)
    try:
        applied = await asyncio.gather(
            db.migrate(first, "svc", migrations), db.migrate(second, "svc", migrations)
        )
        widgets = await first.fetchval("SELECT count(*) FROM svc.widgets")
        recorded = await first.fetchval("SELECT count(*) FROM svc.schema_migrations")
    finally:
        await first.close()
        await second.close()
    assert sorted(applied) == [0, len(migrations)]
    assert widgets == 1
    assert recorded == len(migrations)


async def test_a_failing_migration_leaves_the_schema_untouched(
    database_url: str, migrations_package
) -> None:
    broken = db.load_migrations(
        "widgets",
        migrations_package({**WIDGETS, "0003_typo.sql": "INSERT INTO widgetz VALUES (2, 'x');"}),
    )
    fixed = db.load_migrations(
        "widgets",
        migrations_package({**WIDGETS, "0003_fix.sql": "INSERT INTO widgets VALUES (2, 'x');"}),
    )
    conn = await asyncpg.connect(database_url)
    try:
        with pytest.raises(asyncpg.UndefinedTableError):
            await db.migrate(conn, "svc", broken)
        schemas = await conn.fetchval(
            "SELECT count(*) FROM information_schema.schemata WHERE schema_name = 'svc'"
        )
        assert await db.migrate(conn, "svc", fixed) == 3
        widgets = await conn.fetchval("SELECT count(*) FROM svc.widgets")
    finally:
        await conn.close()
    assert schemas == 0
    assert widgets == 2
