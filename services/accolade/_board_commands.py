"""The leaderboards' part of `accolade apply -f FILE` and `accolade get boards`."""

from __future__ import annotations

import argparse
import re

import grpc

from accolade import _options, _replay_commands, clients, programs
from accolade.v1 import leaderboards_service_pb2 as pb
from accolade.v1 import leaderboards_service_pb2_grpc as pb_grpc

_FIELD = re.compile(r"^(boards|scorecards)\[(\d+)\](.*)$")


def connection(p: argparse.ArgumentParser) -> None:
    """Where the leaderboards service is, beside the options naming achievements."""
    p.add_argument(
        "--leaderboards", help="the leaderboards service's HOST:PORT (default: on --host)"
    )


def target(args: argparse.Namespace) -> str:
    return _replay_commands.target(args, "leaderboards", args.leaderboards)


async def apply(
    args: argparse.Namespace,
    boards: list[programs.Document],
    *,
    dry_run: bool,
    quiet: bool = False,
) -> int:
    """Sends the file's boards to the leaderboards service; prints what changed."""
    request = programs.boards_request(
        args.tenant, boards, effective_at=args.effective_at, dry_run=dry_run
    )
    async with clients.channel(
        target(args), _options.api_key(args), clients.tls_from_env()
    ) as channel:
        try:
            reply = await pb_grpc.LeaderboardsServiceStub(channel).ApplyBoards(request, timeout=30)
        except grpc.aio.AioRpcError as exc:
            return _options.refused(target(args), exc, lambda f, why: _locate(f, why, boards))
    if not quiet:
        _options.print_changes(reply.changes, dry_run)
    return 0


def _locate(field: str, why: str, boards: list[programs.Document]) -> str:
    """A problem the service found, said in terms of the file and document at fault."""
    m = _FIELD.match(field)
    if m:
        kind = "Leaderboard" if m.group(1) == "boards" else "Scorecard"
        of_kind = [d for d in boards if d.kind == kind]
        if int(m.group(2)) < len(of_kind):
            where = m.group(3).lstrip(".") or "document"
            return f"{of_kind[int(m.group(2))].source}: {where}: {why}"
    return f"{field}: {why}"


async def get(args: argparse.Namespace) -> int:
    """Prints the tenant's boards (the built-in one first), or one of them."""
    async with clients.channel(
        target(args), _options.api_key(args), clients.tls_from_env()
    ) as channel:
        try:
            listing = await pb_grpc.LeaderboardsServiceStub(channel).ListBoards(
                pb.ListBoardsRequest(tenant_id=args.tenant), timeout=30
            )
        except grpc.aio.AioRpcError as exc:
            return _options.fail(f"{exc.code().name}: {exc.details()}")
    boards = [b for b in listing.boards if not args.id or b.metadata.id == args.id]
    cards = [c for c in listing.scorecards if not args.id or c.metadata.id == args.id]
    if args.id and not boards and not cards:
        return _options.fail(f"NOT_FOUND: no board {args.id!r}")
    if args.output == "yaml":
        docs = [programs.dump("Leaderboard", b, with_version=True) for b in boards]
        docs += [programs.dump("Scorecard", c, with_version=True) for c in cards]
        print(programs.to_yaml(docs), end="")
        return 0
    _options.table(
        ("ID", "NAME", "EVENT", "METRIC", "PERIOD", "ZONE", "MIN", "VERSION"),
        [
            (
                b.metadata.id,
                b.metadata.name,
                b.spec.event,
                f"{b.spec.metric or 'count'}{' ' + b.spec.field if b.spec.field else ''}"
                f" ({b.spec.direction or 'higher'})",
                b.spec.period or "day",
                b.spec.time_zone or "tenant's",
                str(b.spec.min_events),
                str(b.version),
            )
            for b in boards
        ]
        + [
            (
                c.metadata.id,
                c.metadata.name,
                ", ".join(sorted({m.event for m in c.spec.metrics})),
                f"scorecard: {', '.join(m.id for m in c.spec.metrics)}",
                c.spec.period or "week",
                c.spec.time_zone or "tenant's",
                "",
                str(c.version),
            )
            for c in cards
        ],
    )
    return 0
