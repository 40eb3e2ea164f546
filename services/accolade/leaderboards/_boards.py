"""A tenant's boards and scorecards in the store: applying definitions, and the versions
consumers use."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime

import asyncpg

from accolade.leaderboards._definitions import (
    BoardRule,
    check_board,
    check_scorecard,
    compile_board,
    compile_scorecard,
)
from accolade.rules.definitions import content_of
from accolade.runtime.validation import Violations
from accolade.v1 import leaderboards_service_pb2 as pb
from accolade.v1.achievements_service_pb2 import DefinitionChange

# The built-in board's id, which no tenant's board may take.
BUILT_IN = "daily-resolutions"


def _documents(
    request: pb.ApplyBoardsRequest,
) -> list[tuple[str, str, pb.LeaderboardDefinition | pb.ScorecardDefinition]]:
    """The request's documents in the order of its changes: (where, kind, document)."""
    return [
        *((f"boards[{i}]", "Leaderboard", d) for i, d in enumerate(request.boards)),
        *((f"scorecards[{i}]", "Scorecard", d) for i, d in enumerate(request.scorecards)),
    ]


def validate(request: pb.ApplyBoardsRequest) -> Violations:
    """Every problem of the request's documents on their own."""
    v = Violations()
    v.identifier("tenant_id", request.tenant_id)
    seen: dict[str, str] = {}
    for at, _, d in _documents(request):
        if isinstance(d, pb.ScorecardDefinition):
            check_scorecard(v, at, d)
        else:
            check_board(v, at, d)
        if d.metadata.id == BUILT_IN:
            v.add(f"{at}.metadata.id", f"{BUILT_IN!r} is the built-in board's id")
        if d.metadata.id in seen:
            v.add(f"{at}.metadata.id", f"{d.metadata.id!r} is also {seen[d.metadata.id]}")
        seen.setdefault(d.metadata.id, at)
    if not request.boards and not request.scorecards:
        v.add("boards", "the request holds no board and no scorecard")
    return v


async def apply(
    pool: asyncpg.Pool, request: pb.ApplyBoardsRequest, now: datetime
) -> pb.ApplyBoardsResponse:
    """Stores each board that differs from its latest version as a new version, in
    force from `now`; a dry run reports the same changes and stores nothing.

    Raises:
        InvalidArgument: one violation per problem; any problem refuses the whole request.
    """
    v = validate(request)
    tenant = request.tenant_id
    effective = (
        request.effective_at.ToDatetime(tzinfo=UTC) if request.HasField("effective_at") else now
    )
    changes, rows = [], []
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext('leaderboards.boards/' || $1))", tenant
        )
        latest = {
            r["board_id"]: r
            for r in await conn.fetch(
                "SELECT DISTINCT ON (board_id) board_id, version, effective_at, definition, "
                "  kind FROM board_definitions WHERE tenant_id = $1 "
                "ORDER BY board_id, version DESC",
                tenant,
            )
        }
        for at, kind, d in _documents(request):
            held = latest.get(d.metadata.id)
            content = content_of(d)
            if held is not None and held["kind"] != kind:
                v.add(
                    f"{at}.metadata.id",
                    f"{d.metadata.id!r} is a {held['kind']}; a board cannot change its kind",
                )
                continue
            if held is not None and held["definition"] == content:
                action, version = "unchanged", held["version"]
            else:
                if held is not None and effective < held["effective_at"]:
                    v.add(
                        at,
                        f"cannot come into force before version {held['version']} "
                        f"({held['effective_at'].isoformat()})",
                    )
                action = "updated" if held else "created"
                version = held["version"] + 1 if held else 1
                rows.append((tenant, d.metadata.id, version, effective, content, kind))
            changes.append(
                DefinitionChange(kind=kind, id=d.metadata.id, action=action, version=version)
            )
        v.check()
        if rows and not request.dry_run:
            await conn.executemany(
                "INSERT INTO board_definitions (tenant_id, board_id, version, effective_at, "
                "  definition, kind) VALUES ($1, $2, $3, $4, $5, $6)",
                rows,
            )
            await conn.execute(
                "INSERT INTO board_revisions (tenant_id, revision) VALUES ($1, 1) "
                "ON CONFLICT (tenant_id) DO UPDATE SET revision = board_revisions.revision + 1",
                tenant,
            )
    return pb.ApplyBoardsResponse(changes=changes)


async def latest(pool: asyncpg.Pool, tenant: str) -> pb.ListBoardsResponse:
    """Each of the tenant's boards and scorecards at its latest version, by id."""
    rows = await pool.fetch(
        "SELECT DISTINCT ON (board_id) board_id, version, effective_at, definition, kind "
        "FROM board_definitions WHERE tenant_id = $1 ORDER BY board_id, version DESC",
        tenant,
    )
    out = pb.ListBoardsResponse()
    for r in rows:
        d = (out.scorecards if r["kind"] == "Scorecard" else out.boards).add()
        d.ParseFromString(r["definition"])
        d.version = r["version"]
        d.effective_at.FromDatetime(r["effective_at"])
    return out


def compile_row(r: asyncpg.Record) -> BoardRule:
    """The rule of a stored definition (its kind, definition, version and effective_at)."""
    if r["kind"] == "Scorecard":
        return compile_scorecard(
            pb.ScorecardDefinition.FromString(r["definition"]), r["version"], r["effective_at"]
        )
    return compile_board(
        pb.LeaderboardDefinition.FromString(r["definition"]), r["version"], r["effective_at"]
    )


@dataclasses.dataclass(frozen=True, slots=True)
class TenantBoards:
    """A tenant's boards as of one revision: every version, by board, ascending."""

    revision: int
    versions: Mapping[str, Sequence[BoardRule]]

    def in_force(self, at: datetime) -> list[BoardRule]:
        """The version of each board in force at `at` (boards not yet in force: none)."""
        out = []
        for versions in self.versions.values():
            current = None
            for r in versions:
                if r.effective_at > at:
                    break
                current = r
            if current is not None:
                out.append(current)
        return out

    def version(self, board_id: str, version: int) -> BoardRule | None:
        """One version of a board (None: no such board or version)."""
        return next((r for r in self.versions.get(board_id, ()) if r.version == version), None)

    def read_at(self, board_id: str, at: datetime) -> BoardRule | None:
        """The version of a board that queries at `at` read: the one in force then, or,
        for a board not in force yet, its first."""
        versions = self.versions.get(board_id) or ()
        current = versions[0] if versions else None
        for r in versions:
            if r.effective_at > at:
                break
            current = r
        return current


class Boards:
    """The tenants' compiled boards, reloaded when an apply bumps a tenant's revision."""

    def __init__(self, read_age: float = 1.0) -> None:
        """Args:
        read_age: how long a query may use a tenant's boards as last read before the
            revision is read again (the consumer reads it with every batch).
        """
        self._held: dict[str, TenantBoards] = {}
        self._read_age = read_age
        self._read_at: dict[str, float] = {}

    async def for_query(self, pool: asyncpg.Pool, tenant: str) -> TenantBoards | None:
        """A tenant's boards for a query: as read within `read_age`, else read again.

        A board applied through another replica is so read within about a second; one
        applied here at once (`changed`).
        """
        now = time.monotonic()
        if tenant in self._held and now - self._read_at.get(tenant, -1e9) < self._read_age:
            return self._held[tenant]
        found = (await self.of(pool, [tenant])).get(tenant)
        self._read_at[tenant] = now
        return found

    def changed(self, tenant: str) -> None:
        """Forgets when a tenant's boards were read, after an apply here changed them."""
        self._read_at.pop(tenant, None)

    async def of(
        self, conn: asyncpg.Connection | asyncpg.Pool, tenants: Iterable[str]
    ) -> dict[str, TenantBoards]:
        """The boards of `tenants` that have any: one small read, and a reload of those
        whose revision moved."""
        revisions = dict(
            await conn.fetch(
                "SELECT tenant_id, revision FROM board_revisions WHERE tenant_id = ANY($1::text[])",
                list(set(tenants)),
            )
        )
        stale = [
            t for t, r in revisions.items() if t not in self._held or self._held[t].revision != r
        ]
        if stale:
            rules: dict[str, dict[str, list[BoardRule]]] = {t: {} for t in stale}
            for r in await conn.fetch(
                "SELECT tenant_id, board_id, version, effective_at, definition, kind "
                "FROM board_definitions WHERE tenant_id = ANY($1::text[]) "
                "ORDER BY tenant_id, board_id, version",
                stale,
            ):
                rules[r["tenant_id"]].setdefault(r["board_id"], []).append(compile_row(r))
            for t in stale:
                self._held[t] = TenantBoards(revisions[t], rules[t])
        return {t: self._held[t] for t in revisions}
