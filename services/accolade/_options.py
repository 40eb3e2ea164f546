"""Command-line options several commands share: where the database is, which key to use."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from accolade.local.stack import ADMIN_KEY_FILE, URL_FILE


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
