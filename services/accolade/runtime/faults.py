"""Telling a fault of the environment (retry it) from a fault of the data (dead-letter it)."""

from __future__ import annotations

import asyncpg
from aiokafka.errors import KafkaError

# Why a batch is retried: a fixed set, so it can label a metric.
RETRY_REASONS = (
    "connection",
    "timeout",
    "interrupted",
    "resources",
    "read_only",
    "conflict",
    "schema",
    "system",
    "broker",
    "unexpected",
)

# SQLSTATE classes that say something about the server, never about the event: the same
# statement can succeed once the server is back, has room again or is writable again.
_CLASSES = {
    "08": "connection",  # connection exception
    "0A": "schema",  # feature not supported: a cached plan outlived a migration, say
    "25": "read_only",  # invalid transaction state (25006: read-only during failover)
    "40": "conflict",  # serialization failure, deadlock
    "42": "schema",  # undefined table or column, privileges: code and schema disagree
    "53": "resources",  # disk full, out of memory, too many connections
    "55": "conflict",  # lock not available, object in use
    "57": "interrupted",  # admin or crash shutdown, cannot connect now (57014: timeout)
    "58": "system",  # I/O error
    "72": "conflict",  # snapshot too old
    "F0": "system",  # configuration file error
    "XX": "system",  # internal error, data corrupted
}


def environment_fault(exc: BaseException) -> str | None:
    """Why `exc` is the environment's fault (one of RETRY_REASONS), or None if the data's.

    A statement timeout, a read-only database during failover, a full disk, too many
    connections, a dropped connection or an unreachable broker come back as a reason: the
    work is retried and nothing is dead-lettered. A constraint violation, bad data, an
    InvalidEvent or a bug the event triggers come back as None: the event is at fault.
    """
    if isinstance(exc, asyncpg.PostgresError):
        state = str(getattr(exc, "sqlstate", "") or "")
        if state == "57014":  # query_canceled: a statement timeout
            return "timeout"
        return _CLASSES.get(state[:2])
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, OSError | asyncpg.InterfaceError):
        return "connection"
    if isinstance(exc, asyncpg.InternalClientError):
        return "schema"  # the statement cache outlived a migration
    if isinstance(exc, KafkaError):
        return "broker"
    return None
