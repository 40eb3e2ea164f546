"""`accolade apply -f FILE` and `accolade get badges|leveltable|boards`: programs on a
running platform."""

from __future__ import annotations

import argparse
import asyncio
import difflib
import re
import sys
from pathlib import Path

import grpc

from accolade import _board_commands, _options, _replay_commands, clients, programs
from accolade.v1 import achievements_service_pb2 as pb
from accolade.v1 import achievements_service_pb2_grpc as pb_grpc

_FIELD = re.compile(r"^(badges)\[(\d+)\](.*)$|^(level_table)(.*)$")


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Adds `apply` and `get` to the command line."""
    p = sub.add_parser("apply", help="apply a program file: each document as a new version")
    p.add_argument(
        "-f",
        "--file",
        action="append",
        required=True,
        type=Path,
        help="a program file (repeatable)",
    )
    p.add_argument("--dry-run", action="store_true", help="validate and show what would change")
    p.add_argument(
        "--effective-at",
        type=_options.since,
        help="when the new versions come into force (default now): a time, or 2h, 7d ago",
    )
    p.add_argument(
        "--backfill",
        type=_options.since,
        metavar="SINCE",
        help="count the archived history since SINCE (a time, or 30d ago) for new badges",
    )
    _connection(p)
    _replay_commands.connection(p)
    _board_commands.connection(p)
    p.set_defaults(run=apply)

    p = sub.add_parser(
        "replay", help="rebuild a service's state from the event archive; report differences"
    )
    p.add_argument("--service", required=True, choices=_replay_commands.REPLAYABLE)
    _connection(p)
    _replay_commands.connection(p)
    p.set_defaults(run=lambda args: _replay_commands.replay(args, _target(args)))

    p = sub.add_parser("get", help="show a program's documents")
    p.add_argument("kind", choices=("badges", "leveltable", "boards"))
    p.add_argument("id", nargs="?", help="one badge or board")
    p.add_argument("-o", "--output", choices=("table", "yaml"), default="table")
    p.add_argument("--archived", action="store_true", help="list archived badges too")
    _connection(p)
    _board_commands.connection(p)
    p.set_defaults(run=get)


def _connection(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tenant", required=True, help="the tenant whose program it is")
    p.add_argument("--host", default="127.0.0.1", help="where the achievements service runs")
    p.add_argument("--port-offset", type=int, default=0, help="as given to `accolade up`")
    p.add_argument("--address", help="the achievements service's HOST:PORT (overrides both)")
    _options.key(p)


def _target(args: argparse.Namespace) -> str:
    return _replay_commands.target(args, "achievements", args.address)


def apply(args: argparse.Namespace) -> int:
    """Sends every document of the files to the service that owns its kind."""
    documents: list[programs.Document] = []
    problems: list[str] = []
    for path in args.file:
        try:
            documents.extend(programs.parse(path.read_text(encoding="utf-8"), path.name))
        except OSError as exc:
            problems.append(f"{path}: {exc.strerror}")
        except programs.ProgramError as exc:
            problems.extend(exc.problems)
    if problems:
        return _options.fail("nothing was applied:\n  " + "\n  ".join(problems))
    return asyncio.run(_apply(args, documents))


async def _apply(args: argparse.Namespace, documents: list[programs.Document]) -> int:
    boards = [d for d in documents if d.kind in programs.BOARD_KINDS]
    program = [d for d in documents if d.kind not in programs.BOARD_KINDS]
    if boards and program and not args.dry_run:
        # Two services take the file: both check it first, so that a document either
        # refuses leaves everything as it was.
        code = await _board_commands.apply(args, boards, dry_run=True, quiet=True)
        if code or (code := await _apply_program(args, program, dry_run=True, quiet=True)):
            return code
    if program and (code := await _apply_program(args, program, dry_run=args.dry_run)):
        return code
    if boards:
        return await _board_commands.apply(args, boards, dry_run=args.dry_run)
    return 0


async def _apply_program(
    args: argparse.Namespace,
    documents: list[programs.Document],
    *,
    dry_run: bool,
    quiet: bool = False,
) -> int:
    """Applies the achievements service's documents (badges, a level table)."""
    badges = [d for d in documents if d.kind == "Badge"]
    tables = [d for d in documents if d.kind == "LevelTable"]
    try:
        request = programs.apply_request(
            args.tenant, documents, effective_at=args.effective_at, dry_run=dry_run
        )
    except programs.ProgramError as exc:
        return _options.fail(str(exc))
    async with clients.channel(
        _target(args), _options.api_key(args), clients.tls_from_env()
    ) as channel:
        stub = pb_grpc.AchievementsServiceStub(channel)
        try:
            if dry_run and not quiet:
                await _diff(stub, args.tenant, badges)
            reply = await stub.ApplyProgram(request, timeout=30)
        except grpc.aio.AioRpcError as exc:
            return _options.refused(
                _target(args), exc, lambda f, why: _locate(f, why, badges, tables)
            )
        if quiet:
            return 0
        _options.print_changes(reply.changes, dry_run)
        if args.backfill is None or dry_run:
            return 0
        created = [c.id for c in reply.changes if c.kind == "Badge" and c.action == "created"]
        if not created:
            print("backfill: no new badge to count history for")
            return 0
        try:
            done = await _replay_commands.backfill(
                stub,
                _replay_commands.gateway_target(args),
                _options.api_key(args),
                args.tenant,
                created,
                args.backfill,
            )
        except grpc.aio.AioRpcError as exc:
            return _options.fail(f"backfill: {exc.code().name}: {exc.details()}")
    awards = f"{done.awards} award{'' if done.awards == 1 else 's'}"
    print(f"backfill: counted {done.counted} events, {awards} made")
    return 0


def _locate(
    field: str, why: str, badges: list[programs.Document], tables: list[programs.Document]
) -> str:
    """A problem the service found, said in terms of the file and document at fault."""
    m = _FIELD.match(field)
    if m and m.group(1) and int(m.group(2)) < len(badges):
        doc = badges[int(m.group(2))]
        return f"{doc.source}: {m.group(3).lstrip('.') or 'document'}: {why}"
    if m and m.group(4) and tables:
        return f"{tables[0].source}: {m.group(5).lstrip('.') or 'document'}: {why}"
    return f"{field}: {why}"


async def _diff(
    stub: pb_grpc.AchievementsServiceStub, tenant: str, badges: list[programs.Document]
) -> None:
    """Prints, for each badge that exists, how the file changes it."""
    held = await stub.ListBadgeDefinitions(
        pb.ListBadgeDefinitionsRequest(tenant_id=tenant, include_archived=True), timeout=30
    )
    current = {b.metadata.id: b for b in held.badges}
    for doc in badges:
        old = current.get(doc.message.metadata.id)  # type: ignore[attr-defined]
        if old is None:
            continue
        before = programs.to_yaml([programs.dump("Badge", old)]).splitlines(keepends=True)
        after = programs.to_yaml([programs.dump("Badge", doc.message)]).splitlines(keepends=True)
        diff = list(
            difflib.unified_diff(
                before, after, f"{doc.name} (version {old.version})", f"{doc.name} ({doc.source})"
            )
        )
        sys.stdout.writelines(diff)


def get(args: argparse.Namespace) -> int:
    """Prints a tenant's badges, level table or boards."""
    if args.kind == "boards":
        return asyncio.run(_board_commands.get(args))
    return asyncio.run(_get(args))


async def _get(args: argparse.Namespace) -> int:
    async with clients.channel(
        _target(args), _options.api_key(args), clients.tls_from_env()
    ) as channel:
        stub = pb_grpc.AchievementsServiceStub(channel)
        try:
            if args.kind == "leveltable":
                table = (
                    await stub.GetLevelTable(
                        pb.GetLevelTableRequest(tenant_id=args.tenant), timeout=30
                    )
                ).level_table
                if args.output == "yaml":
                    print(
                        programs.to_yaml([programs.dump("LevelTable", table, with_version=True)]),
                        end="",
                    )
                else:
                    _options.table(
                        ("LEVEL", "NAME", "XP"),
                        [(str(lv.level), lv.name, str(lv.xp)) for lv in table.spec.levels],
                    )
                return 0
            if args.id:
                reply = await stub.GetBadgeDefinition(
                    pb.GetBadgeDefinitionRequest(tenant_id=args.tenant, badge_id=args.id),
                    timeout=30,
                )
                badges = [reply.badge]
            else:
                listing = await stub.ListBadgeDefinitions(
                    pb.ListBadgeDefinitionsRequest(
                        tenant_id=args.tenant, include_archived=args.archived
                    ),
                    timeout=30,
                )
                badges = list(listing.badges)
        except grpc.aio.AioRpcError as exc:
            return _options.fail(f"{exc.code().name}: {exc.details()}")
    if args.output == "yaml":
        print(
            programs.to_yaml([programs.dump("Badge", b, with_version=True) for b in badges]), end=""
        )
        return 0
    _options.table(
        ("ID", "NAME", "EVENT", "AGGREGATE", "WINDOW", "TIERS", "VERSION"),
        [
            (
                b.metadata.id + (" (archived)" if b.archived else ""),
                b.metadata.name,
                b.spec.event,
                b.spec.aggregate or "count",
                b.spec.window or "all_time",
                " ".join(f"{t.id}:{t.threshold:g}" for t in b.spec.tiers),
                str(b.version),
            )
            for b in badges
        ],
    )
    return 0
