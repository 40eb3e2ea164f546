"""`accolade dead-letters list|replay`: what consumers could not apply, and applying it later."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import UTC

import asyncpg

from accolade import _options, catalog
from accolade.runtime import deadletters


def consumers() -> list[str]:
    """Every consumer's name, "<service>.<consumer>"."""
    return [f"{n}.{c.name}" for n in catalog.NAMES for c in catalog.load(n).consumers]


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Adds `dead-letters list` and `dead-letters replay` to the command line."""
    p = sub.add_parser("dead-letters", help="list or replay what a consumer could not apply")
    actions = p.add_subparsers(dest="action", required=True)
    for name, text in (
        ("list", "list a consumer's dead letters, oldest first"),
        ("replay", "apply a consumer's dead letters again, once their cause is fixed"),
    ):
        a = actions.add_parser(name, help=text)
        a.add_argument(
            "--consumer",
            required=True,
            choices=consumers(),
            metavar="NAME",
            help="the consumer: " + ", ".join(consumers()),
        )
        a.add_argument(
            "--since", type=_options.since, help="only letters since then: a time, or 30m, 2h, 7d"
        )
        _options.database(a)
        if name == "replay":
            a.add_argument(
                "--wait",
                type=float,
                default=60.0,
                help="seconds to wait for the outcome (0: do not)",
            )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Runs `dead-letters list` or `dead-letters replay`; returns the exit code."""
    url = _options.database_url(args)
    if url is None:
        return 2
    action = _list if args.action == "list" else _replay
    return asyncio.run(action(url, args))


async def _connect(url: str, consumer: str) -> asyncpg.Connection:
    schema = consumer.split(".", 1)[0]  # each service's letters are in its own schema
    return await asyncpg.connect(url, server_settings={"search_path": schema})


async def _list(url: str, args: argparse.Namespace) -> int:
    conn = await _connect(url, args.consumer)
    try:
        letters = await deadletters.listing(conn, args.consumer, args.since)
    finally:
        await conn.close()
    if not letters:
        print(
            f"{args.consumer} has no dead letters"
            + (f" since {args.since:%F %T}" if args.since else "")
        )
        return 0
    header = (
        "ID",
        "DEAD-LETTERED (UTC)",
        "FROM",
        "TENANT/AGENT",
        "EVENT",
        "KIND",
        "REPLAY",
        "REASON",
    )
    rows = [
        (
            str(r["id"]),
            f"{r['dead_lettered_at'].astimezone(UTC):%F %T}",
            f"{r['source_topic']}[{r['source_partition']}]@{r['source_offset']}",
            f"{r['tenant_id']}/{r['agent_id']}" if r["tenant_id"] else "-",
            r["event_id"] or "-",
            r["kind"],
            "requested" if r["replay_requested_at"] else (r["replay_outcome"] or "-"),
            " ".join(r["reason"].split()),  # one line per letter; DETAIL lines follow on it
        )
        for r in letters
    ]
    _options.table(header, rows)
    return 0


async def _replay(url: str, args: argparse.Namespace) -> int:
    conn = await _connect(url, args.consumer)
    try:
        ids = await deadletters.request_replay(conn, args.consumer, args.since)
        if not ids:
            print(f"nothing to replay: {args.consumer} has no dead letter that was not applied")
            return 0
        print(
            f"asked {args.consumer} to replay {len(ids)} dead letter(s); it takes them within "
            "a second while it runs",
            flush=True,
        )
        if args.wait <= 0:
            return 0
        deadline = time.monotonic() + args.wait
        shown: dict[str, int] = {}
        while True:
            progress = await deadletters.replay_progress(conn, ids)
            if progress != shown:
                print(
                    "  " + ", ".join(f"{n} {state}" for state, n in sorted(progress.items())),
                    flush=True,
                )
                shown = progress
            if not progress.get("waiting"):
                break
            if time.monotonic() > deadline:
                print(
                    f"accolade: {progress['waiting']} still waiting after {args.wait:g} s: is "
                    f"{args.consumer.split('.')[0]} running? They are replayed once it is.",
                    file=sys.stderr,
                )
                return 1
            await asyncio.sleep(0.5)
    finally:
        await conn.close()
    if progress.get("failed"):
        print(
            f"{progress['failed']} failed again; `accolade dead-letters list --consumer "
            f"{args.consumer}` shows why",
            file=sys.stderr,
        )
        return 1
    return 0
