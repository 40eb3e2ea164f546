"""Bounded storage: old rows deleted in the background, a few thousand at a time."""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable

import asyncpg

from accolade.runtime.settings import Settings

log = logging.getLogger(__name__)

_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
# Rows per statement: each statement is a short transaction of its own, so a purge never
# holds locks for long or keeps a large backlog of dead rows in one transaction.
PURGE_BATCH = 5000


@dataclasses.dataclass(frozen=True, slots=True)
class Retention:
    """A table whose rows are deleted once `column` is older than a retention.

    Attributes:
        table: the table, in the service's own schema.
        column: a timestamptz column with an index that finds old rows.
        seconds: the retention, read from the service's settings.
    """

    table: str
    column: str
    seconds: Callable[[Settings], float]
    # Rows whose `topic` is one of these are kept whatever their age (outbox only).
    spared_topics: Callable[[Settings], list[str]] | None = None

    def __post_init__(self) -> None:
        if not (_NAME.match(self.table) and _NAME.match(self.column)):
            raise ValueError(f"not a plain SQL name: {self.table}.{self.column}")

    async def purge(self, conn: asyncpg.Connection, settings: Settings) -> int:
        """Deletes this table's rows past their retention (see `purge`); how many went."""
        spared = self.spared_topics(settings) if self.spared_topics else None
        return await purge(
            conn, self.table, self.column, self.seconds(settings), spared_topics=spared
        )


# The runtime's own tables, in every service's schema: published outbox rows, and the
# events a consumer applied. Rows of the identity topic stay in the outbox: a broker that
# loses its log gets every tenant and key published again from them (services keep keys
# only in memory, so the topic must always hold them all). Keys change rarely.
OUTBOX = Retention(
    "outbox",
    "published_at",
    lambda s: s.outbox_retention_seconds,
    lambda s: [s.topics.topic("identity")],
)
INBOX = Retention("applied_events", "applied_at", lambda s: s.inbox_retention_seconds)


async def purge(
    conn: asyncpg.Connection,
    table: str,
    column: str,
    older_than: float,
    *,
    batch: int = PURGE_BATCH,
    spared_topics: list[str] | None = None,
) -> int:
    """Deletes the rows of `table` whose `column` is more than `older_than` seconds old.

    Deletes up to `batch` rows per statement, skipping rows another session has locked
    (another replica purging, say); returns how many rows went. `column` should have an
    index that finds old rows (a BRIN index suits rows written in time order).
    """
    # Names are checked by Retention; values go as parameters.
    spare = " AND topic <> ALL($3::text[])" if spared_topics else ""
    statement = (
        f"DELETE FROM {table} WHERE ctid = ANY(ARRAY("  # noqa: S608
        f"SELECT ctid FROM {table} WHERE {column} < now() - make_interval(secs => $1){spare} "
        f"LIMIT $2 FOR UPDATE SKIP LOCKED))"
    )
    args = (older_than, batch, spared_topics) if spared_topics else (older_than, batch)
    total = 0
    while True:
        status = await conn.execute(statement, *args)
        deleted = int(status.split()[-1])
        total += deleted
        if deleted < batch:
            return total
