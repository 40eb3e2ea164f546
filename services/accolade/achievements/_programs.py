"""Each tenant's program: definitions stored as versions, and a cache the consumer reads."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

import asyncpg

from accolade.rules.definitions import (
    Levels,
    Rule,
    check_badge,
    check_level_table,
    check_requirements,
    compile_badge,
    compile_levels,
    content_of,
)
from accolade.rules.evaluate import Program
from accolade.rules.tenants import CalendarOf
from accolade.runtime.validation import Violations
from accolade.v1 import achievements_service_pb2 as pb

MAX_BADGES = 500


@dataclasses.dataclass(frozen=True, slots=True)
class Loaded:
    """A tenant's program as of one revision."""

    revision: int
    program: Program
    levels: Levels | None


class Programs:
    """The programs of the tenants a consumer has seen, reloaded when they change.

    One small read per batch compares each tenant's revision with the cached one, so an
    apply on any replica is in force for the next batch on every replica.
    """

    def __init__(self, cal_of: CalendarOf) -> None:
        self._cal_of = cal_of
        self._cache: dict[str, Loaded] = {}

    async def of(self, conn: asyncpg.Connection, tenants: Iterable[str]) -> dict[str, Loaded]:
        """The current program of each of `tenants` that has one."""
        rows = await conn.fetch(
            "SELECT tenant_id, revision FROM program_revisions WHERE tenant_id = ANY($1::text[])",
            list(set(tenants)),
        )
        # A program is compiled again when it changes, and when its tenant's calendar does.
        stale = {
            r[0]: r[1]
            for r in rows
            if (held := self._cache.get(r[0])) is None
            or held.revision != r[1]
            or held.program.cal != self._cal_of(r[0])
        }
        if stale:
            self._cache.update(await load(conn, stale, self._cal_of))
        return {r[0]: self._cache[r[0]] for r in rows if r[0] in self._cache}


async def load(
    conn: asyncpg.Connection, revisions: Mapping[str, int], cal_of: CalendarOf
) -> dict[str, Loaded]:
    """Reads and compiles every version of the programs of the tenants in `revisions`
    (tenant -> the revision just read)."""
    tenants = list(revisions)
    badges = await conn.fetch(
        "SELECT tenant_id, version, effective_at, archived, definition, counts_from "
        "FROM badge_definitions "
        "WHERE tenant_id = ANY($1::text[])",
        tenants,
    )
    tables = await conn.fetch(
        "SELECT DISTINCT ON (tenant_id) tenant_id, version, definition FROM level_tables "
        "WHERE tenant_id = ANY($1::text[]) ORDER BY tenant_id, version DESC",
        tenants,
    )
    rules: dict[str, list[Rule]] = {t: [] for t in tenants}
    for r in badges:
        d = pb.BadgeDefinition.FromString(r["definition"])
        d.archived = r["archived"]
        rules[r["tenant_id"]].append(
            compile_badge(d, r["version"], r["effective_at"], r["counts_from"])
        )
    levels = {
        r["tenant_id"]: compile_levels(pb.LevelTable.FromString(r["definition"]), r["version"])
        for r in tables
    }
    return {
        t: Loaded(revision, Program.of(rules[t], cal_of(t)), levels.get(t))
        for t, revision in revisions.items()
    }


def validate(request: pb.ApplyProgramRequest) -> Violations:
    """Checks each document of an apply on its own: every problem, each naming its field,
    such as "badges[3].spec.when" with the position in the expression."""
    v = Violations()
    v.identifier("tenant_id", request.tenant_id)
    if len(request.badges) > MAX_BADGES:
        v.add("badges", f"must hold at most {MAX_BADGES} badges")
    seen: dict[str, int] = {}
    for i, d in enumerate(request.badges):
        check_badge(v, f"badges[{i}]", d)
        if d.metadata.id in seen:
            v.add(
                f"badges[{i}].metadata.id",
                f"{d.metadata.id!r} is also badges[{seen[d.metadata.id]}]",
            )
        seen.setdefault(d.metadata.id, i)
    if request.HasField("level_table"):
        check_level_table(v, "level_table", request.level_table)
    if not request.badges and not request.HasField("level_table"):
        v.add("badges", "the request holds no document")
    return v


async def apply(
    pool: asyncpg.Pool, request: pb.ApplyProgramRequest, now: datetime
) -> pb.ApplyProgramResponse:
    """Stores each document that differs from the version in force as a new version.

    Applies of one tenant are serialized by a transaction lock; a dry run reports the
    same changes and stores nothing.

    Raises:
        InvalidArgument: one violation per problem, of the documents alone or with the
            badges in force; any problem refuses the whole request.
    """
    checked = validate(request)
    if any(f.endswith(".metadata.id") or f == "tenant_id" for f, _ in checked.items):
        checked.check()  # the documents cannot even be told apart
    tenant = request.tenant_id
    effective = (
        request.effective_at.ToDatetime(tzinfo=UTC) if request.HasField("effective_at") else now
    )
    changes = []
    async with pool.acquire() as conn, conn.transaction():
        await lock(conn, tenant)
        latest = {
            r["badge_id"]: r
            for r in await conn.fetch(
                "SELECT DISTINCT ON (badge_id) badge_id, version, effective_at, archived, definition "
                "FROM badge_definitions WHERE tenant_id = $1 ORDER BY badge_id, version DESC",
                tenant,
            )
        }
        rows = []
        v = checked
        applied = {d.metadata.id: (f"badges[{i}]", d.spec) for i, d in enumerate(request.badges)}
        others = {
            b: pb.BadgeDefinition.FromString(r["definition"]).spec
            for b, r in latest.items()
            if not r["archived"] and b not in applied
        }
        check_requirements(v, applied, others)
        for i, d in enumerate(request.badges):
            held = latest.get(d.metadata.id)
            content = content_of(d)
            if held is not None and not held["archived"] and held["definition"] == content:
                changes.append(
                    pb.DefinitionChange(
                        kind="Badge", id=d.metadata.id, action="unchanged", version=held["version"]
                    )
                )
                continue
            if held is not None and effective < held["effective_at"]:
                v.add(
                    f"badges[{i}]",
                    f"cannot come into force before version {held['version']} ({held['effective_at'].isoformat()})",
                )
            version = held["version"] + 1 if held else 1
            rows.append((tenant, d.metadata.id, version, effective, content))
            changes.append(
                pb.DefinitionChange(
                    kind="Badge",
                    id=d.metadata.id,
                    action="updated" if held else "created",
                    version=version,
                )
            )
        table_row = None
        if request.HasField("level_table"):
            held_t = await conn.fetchrow(
                "SELECT version, definition FROM level_tables WHERE tenant_id = $1 ORDER BY version DESC LIMIT 1",
                tenant,
            )
            content = content_of(request.level_table)
            if held_t is not None and held_t["definition"] == content:
                changes.append(
                    pb.DefinitionChange(
                        kind="LevelTable",
                        id=request.level_table.metadata.id,
                        action="unchanged",
                        version=held_t["version"],
                    )
                )
            else:
                version = held_t["version"] + 1 if held_t else 1
                table_row = (tenant, version, effective, content)
                changes.append(
                    pb.DefinitionChange(
                        kind="LevelTable",
                        id=request.level_table.metadata.id,
                        action="updated" if held_t else "created",
                        version=version,
                    )
                )
        v.check()
        if request.dry_run or (not rows and table_row is None):
            return pb.ApplyProgramResponse(changes=changes)
        if rows:
            await conn.executemany(
                "INSERT INTO badge_definitions (tenant_id, badge_id, version, effective_at, definition) "
                "VALUES ($1, $2, $3, $4, $5)",
                rows,
            )
        if table_row:
            await conn.execute(
                "INSERT INTO level_tables (tenant_id, version, effective_at, definition) VALUES ($1, $2, $3, $4)",
                *table_row,
            )
        await bump(conn, tenant)
    return pb.ApplyProgramResponse(changes=changes)


async def lock(conn: asyncpg.Connection, tenant: str) -> None:
    """Serializes changes to one tenant's program, until the transaction ends."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtext('achievements.program/' || $1))", tenant
    )


async def bump(conn: asyncpg.Connection, tenant: str) -> None:
    """Marks the tenant's program changed, so consumers reload it."""
    await conn.execute(
        "INSERT INTO program_revisions (tenant_id, revision) VALUES ($1, 1) "
        "ON CONFLICT (tenant_id) DO UPDATE SET revision = program_revisions.revision + 1",
        tenant,
    )
