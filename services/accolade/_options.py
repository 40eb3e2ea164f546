"""What several commands share: where the database is, which key to use, durations and
times, tables on the terminal, and how an apply reports."""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc

from accolade.local.stack import ADMIN_KEY_FILE, URL_FILE
from accolade.runtime.interceptors import bad_request_violations


def database(p: argparse.ArgumentParser) -> None:
    """--database-url and --data-dir, for the operator commands that reach PostgreSQL."""
    p.add_argument(
        "--database-url",
        default=os.environ.get("ACCOLADE_DATABASE_URL"),
        help="the platform's PostgreSQL (default: ACCOLADE_DATABASE_URL, else the one of "
        "`accolade up` in --data-dir)",
    )
    p.add_argument("--data-dir", default=".accolade", help="where `accolade up` keeps its data")


def database_url(args: argparse.Namespace) -> str | None:
    """The URL from --database-url, else the one `accolade up` wrote; None (said on
    stderr) when there is neither."""
    if args.database_url:
        return str(args.database_url)
    local = Path(args.data_dir) / URL_FILE
    if not local.exists():
        print(
            "accolade: no database: set ACCOLADE_DATABASE_URL or --database-url, or run "
            f"`accolade up` (which writes its URL to {local})",
            file=sys.stderr,
        )
        return None
    return local.read_text().strip()


def key(p: argparse.ArgumentParser) -> None:
    """--key and --data-dir: the admin key a command presents."""
    p.add_argument(
        "--key",
        default=os.environ.get("ACCOLADE_KEY"),
        help="an admin key of the tenant (default: ACCOLADE_KEY, else the one `accolade up` "
        "wrote in --data-dir)",
    )
    p.add_argument("--data-dir", default=".accolade", help="where `accolade up` keeps its data")


def api_key(args: argparse.Namespace) -> str:
    """The key from --key or ACCOLADE_KEY, else the local admin key of `accolade up`."""
    if args.key:
        return str(args.key)
    local = Path(args.data_dir) / ADMIN_KEY_FILE
    if local.exists():
        return local.read_text().strip()
    raise SystemExit(
        f"accolade: no key: pass --key or set ACCOLADE_KEY (`accolade up` writes its admin "
        f"key to {local})"
    )


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def duration(value: str) -> timedelta | None:
    """A duration such as 90s, 30m, 72h or 7d; None when `value` is not one."""
    if match := _DURATION.match(value.strip()):
        amount, unit = match.groups()
        return timedelta(**{_UNITS[unit]: float(amount)})
    return None


def seconds(value: str) -> int:
    """Whole seconds from a duration (72h, 3d) or a plain number of seconds.

    Raises:
        argparse.ArgumentTypeError: neither.
    """
    if (length := duration(value)) is not None:
        return int(length.total_seconds())
    try:
        return int(value.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a duration such as 72h or 3d") from None


def since(value: str) -> datetime:
    """An ISO 8601 time (UTC unless it says otherwise), or how long ago: 30m, 2h, 7d.

    Raises:
        argparse.ArgumentTypeError: neither.
    """
    if (ago := duration(value)) is not None:
        return datetime.now(UTC) - ago
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a time (2026-12-01T09:00:00Z) or a duration ago (30m, 2h, 7d)"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    """Prints `rows` under `header` in columns as wide as their widest value."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def fail(message: str) -> int:
    """Says what went wrong on stderr; returns the command's exit status."""
    print(f"accolade: {message}", file=sys.stderr)
    return 1


def refused(target: str, exc: grpc.aio.AioRpcError, locate: Callable[[str, str], str]) -> int:
    """Fails an apply the service refused: each problem said by `locate(field, why)` in
    terms of the file and document at fault, or the status of any other error."""
    if exc.code() != grpc.StatusCode.INVALID_ARGUMENT:
        return fail(f"{target}: {exc.code().name}: {exc.details()}")
    lines = [locate(field, why) for field, why in bad_request_violations(exc)]
    return fail("nothing was applied:\n  " + "\n  ".join(lines or [str(exc.details())]))


def print_changes(changes: Iterable[Any], dry_run: bool) -> None:
    """Prints what an apply did (or, in a dry run, would do) to each document."""
    suffix = " (dry run: nothing stored)" if dry_run else ""
    for c in changes:
        print(f"{c.kind.lower()}/{c.id} {c.action} (version {c.version}){suffix}")
