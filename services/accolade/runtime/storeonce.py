"""Storing facts once by their key and publishing each new one, with one statement."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

import asyncpg

from accolade.runtime import db, outbox

_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


@dataclasses.dataclass(frozen=True, slots=True)
class Stored:
    """What storing one row found.

    Attributes:
        new: this row is the copy now stored (the first of its key, which was not stored).
        kept: the compared values of the copy that is kept for its key: this row's own
            when new, else those stored before (or by an earlier row of the same call).
    """

    new: bool
    kept: tuple[object, ...]


class StoreOnce:
    """Stores rows once per key and queues the first copy of each for a topic.

    Intake and surveys take calls that may send the same fact again. One statement, which
    commits by itself (a group commit then costs one round trip), inserts the rows whose
    key is not stored yet, writes the first copy of each new key to the outbox, wakes
    the relay, and answers per row whether it was new and what was stored before. The
    caller compares the `compare` columns to tell a resend (the same values) from a
    different fact reusing the key.
    """

    def __init__(
        self,
        table: str,
        columns: Sequence[tuple[str, str]],
        key: tuple[str, str],
        compare: Sequence[str],
    ) -> None:
        """Args:
        table: the table, in the service's schema.
        columns: (name, SQL type) of every column a row gives, in order.
        key: the two columns of the table's unique key: the tenant, and the fact's id,
            which is also the published event's id.
        compare: the columns that a resend repeats.
        """
        names = [n for n, _ in columns]
        for name in [table, *names]:
            if not _NAME.match(name):
                raise ValueError(f"not a plain SQL name: {name!r}")
        if not set(key) <= set(names) or not set(compare) <= set(names):
            raise ValueError("the key and the compared columns must be columns")
        self._columns = names
        self._table = table
        self._key = key
        self._compare = list(compare)
        self._at = [names.index(c) for c in compare]
        self._key_at = (names.index(key[0]), names.index(key[1]))
        n = len(columns)
        arrays = ", ".join(f"${i + 1}::{t}[]" for i, (_, t) in enumerate(columns))
        cols = ", ".join(names)
        tenant, fact = key
        before = ", ".join(f"e.{c} AS before_{c}" for c in compare)
        # Every part sees the snapshot of before the statement: `before_*` is what earlier
        # transactions stored. A row a concurrent transaction stored meanwhile shows as
        # neither new nor stored before; `store` looks it up again.
        self._sql = f"""
            WITH input AS (
                SELECT * FROM unnest({arrays}, ${n + 1}::bytea[], ${n + 2}::bytea[]) WITH ORDINALITY
                    AS x({cols}, _key, _payload, _n)
            ), stored AS (
                INSERT INTO {table} ({cols}) SELECT {cols} FROM input ORDER BY _n
                ON CONFLICT DO NOTHING RETURNING {tenant}, {fact}
            ), published AS (
                INSERT INTO outbox (topic, key, event_id, payload)
                SELECT ${n + 3}, _key, {fact}, _payload FROM (
                    SELECT DISTINCT ON (i.{tenant}, i.{fact}) i._n, i._key, i.{fact}, i._payload
                    FROM input i JOIN stored USING ({tenant}, {fact})
                    ORDER BY i.{tenant}, i.{fact}, i._n
                ) AS first_copies ORDER BY _n
                RETURNING 1
            )
            SELECT s.{fact} IS NOT NULL AS new, {before},
                   (SELECT pg_notify(${n + 4}, current_schema())
                    WHERE EXISTS (SELECT FROM published)) AS woke
            FROM input i
            LEFT JOIN stored s USING ({tenant}, {fact})
            LEFT JOIN {table} e ON e.{tenant} = i.{tenant} AND e.{fact} = i.{fact}
            ORDER BY i._n
        """  # noqa: S608 - names are checked above; values go as parameters
        self._lookup = (
            f"SELECT e.{tenant}::text, e.{fact}::text, {', '.join('e.' + c for c in compare)} "  # noqa: S608
            f"FROM {table} e JOIN unnest($1::text[], $2::text[]) AS k(t, f) "
            f"ON e.{tenant}::text = k.t AND e.{fact}::text = k.f"
        )

    async def store(
        self,
        conn: asyncpg.Connection,
        rows: Sequence[Sequence[object]],
        events: Sequence[tuple[bytes, bytes]],
        topic: str,
    ) -> list[Stored]:
        """Stores `rows` (values in column order) not stored before, publishing each new one.

        Args:
            conn: a connection outside any transaction: the statement commits itself.
            rows: the rows, in order.
            events: for each row, the Kafka key and the envelope bytes that publish it.
            topic: where new rows are published.

        Returns:
            What was found for each row, in order.
        """
        found = await conn.fetch(
            self._sql,
            *db.columns(rows, len(self._columns)),
            [k for k, _ in events],
            [p for _, p in events],
            topic,
            outbox.NOTIFY_CHANNEL,
        )
        befores = [tuple(r[1 : 1 + len(self._compare)]) for r in found]
        keys = [(str(row[self._key_at[0]]), str(row[self._key_at[1]])) for row in rows]
        racing = {
            k for k, r, b in zip(keys, found, befores, strict=True) if not r["new"] and b[0] is None
        }
        kept: dict[tuple[str, str], tuple[object, ...]] = {}
        if racing:
            # Stored by a concurrent transaction after this statement took its snapshot.
            again = await conn.fetch(self._lookup, [t for t, _ in racing], [f for _, f in racing])
            kept = {(r[0], r[1]): tuple(r[2:]) for r in again}
        out = []
        for row, k, r, before in zip(rows, keys, found, befores, strict=True):
            mine = tuple(row[i] for i in self._at)
            if k not in kept and r["new"]:
                kept[k] = mine
                out.append(Stored(True, mine))
            else:
                # A copy: of one stored before, or of an earlier row of this call.
                out.append(Stored(False, kept.setdefault(k, before)))
        return out
