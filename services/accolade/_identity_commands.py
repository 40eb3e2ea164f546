"""`accolade tenants create|list` and `accolade keys create|list|revoke`.

Operator commands: they write the gateway's store directly, with the database's
credentials (like `accolade migrate`), and the gateway publishes each change to every
service within a second. A key is shown once, when it is made; only its hash is kept.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC

import asyncpg

from accolade import _options
from accolade.gateway import _identity
from accolade.runtime import identity
from accolade.runtime.errors import AccoladeError, InvalidArgument
from accolade.runtime.settings import Topics

Action = Callable[[asyncpg.Connection, str, argparse.Namespace], Awaitable[int]]


def _database(p: argparse.ArgumentParser) -> None:
    _options.database(p)
    p.add_argument(
        "--topic-namespace",
        default=os.environ.get("ACCOLADE_TOPIC_NAMESPACE", "accolade"),
        help="the platform's topic namespace (default: ACCOLADE_TOPIC_NAMESPACE, else accolade)",
    )


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Adds `tenants` and `keys` to the command line."""
    tenants = sub.add_parser("tenants", help="create or list tenants").add_subparsers(
        dest="action", required=True
    )
    p = tenants.add_parser("create", help="create a tenant, or change its settings")
    p.add_argument("tenant", help="its id: lower-case letters, digits and dashes")
    p.add_argument("--name", help="its display name (default: the id)")
    p.add_argument("--time-zone", default="UTC", help="IANA zone of agents without one (UTC)")
    p.add_argument(
        "--week-start", type=int, default=1, help="first day of the week, 1 Monday to 7 Sunday"
    )
    p.add_argument(
        "--lateness",
        type=_options.seconds,
        default=_identity.DEFAULT_LATENESS,
        help="how late an event may arrive and still count in its window (default 72h)",
    )
    p.add_argument(
        "--intake-rate",
        type=float,
        default=0.0,
        help="events per second per replica "
        "(default 0: the services' ACCOLADE_RATE_LIMIT_INTAKE_PER_SECOND)",
    )
    p.add_argument(
        "--read-rate",
        type=float,
        default=0.0,
        help="reads per second per replica "
        "(default 0: the services' ACCOLADE_RATE_LIMIT_READS_PER_SECOND)",
    )
    _database(p)
    p.set_defaults(run=lambda a: _run(a, _create_tenant))
    p = tenants.add_parser("list", help="list tenants")
    _database(p)
    p.set_defaults(run=lambda a: _run(a, _list_tenants))

    keys = sub.add_parser("keys", help="create, list or revoke API keys").add_subparsers(
        dest="action", required=True
    )
    p = keys.add_parser("create", help="make a key; it is shown once")
    p.add_argument("--tenant", required=True)
    p.add_argument("--role", required=True, choices=list(identity.ROLE_NAMES))
    scope = p.add_mutually_exclusive_group()
    scope.add_argument("--agent", default="", help="for agent keys: the agent")
    scope.add_argument("--team", default="", help="for manager keys: the team")
    p.add_argument("--label", default="", help="what the key is for")
    _database(p)
    p.set_defaults(run=lambda a: _run(a, _create_key))
    p = keys.add_parser("list", help="list keys (never their secrets)")
    p.add_argument("--tenant", help="only this tenant's")
    _database(p)
    p.set_defaults(run=lambda a: _run(a, _list_keys))
    p = keys.add_parser("revoke", help="revoke a key everywhere, within seconds")
    p.add_argument("key_id", help="the key's id, as `keys list` shows (or the key itself)")
    _database(p)
    p.set_defaults(run=lambda a: _run(a, _revoke_key))


def _run(args: argparse.Namespace, action: Action) -> int:
    url = _options.database_url(args)
    if url is None:
        return 2
    return asyncio.run(_with_connection(url, args, action))


async def _with_connection(url: str, args: argparse.Namespace, action: Action) -> int:
    conn = await asyncpg.connect(url, server_settings={"search_path": "gateway"})
    try:
        return await action(conn, Topics(args.topic_namespace).topic("identity"), args)
    except InvalidArgument as exc:
        for field, why in exc.violations:
            print(f"accolade: {field}: {why}", file=sys.stderr)
        return 2
    except AccoladeError as exc:
        print(f"accolade: {exc}", file=sys.stderr)
        return 1
    finally:
        await conn.close()


async def _create_tenant(conn: asyncpg.Connection, topic: str, args: argparse.Namespace) -> int:
    created = await _identity.create_tenant(
        conn,
        topic,
        args.tenant,
        args.name or args.tenant,
        args.time_zone,
        args.week_start,
        args.lateness,
        intake_per_second=args.intake_rate,
        reads_per_second=args.read_rate,
    )
    print(f"tenant {args.tenant} {'created' if created else 'updated'}")
    if created:
        print(f"make its first admin key: accolade keys create --tenant {args.tenant} --role admin")
    return 0


async def _list_tenants(conn: asyncpg.Connection, topic: str, args: argparse.Namespace) -> int:
    rows = [
        (
            r["tenant_id"],
            r["display_name"],
            r["time_zone"],
            str(r["week_start"]),
            f"{r['lateness_seconds'] / 3600:g}h",
            str(r["keys"]),
        )
        for r in await _identity.list_tenants(conn)
    ]
    _print(("TENANT", "NAME", "TIME ZONE", "WEEK START", "LATENESS", "KEYS"), rows)
    return 0


async def _create_key(conn: asyncpg.Connection, topic: str, args: argparse.Namespace) -> int:
    key, token = await _identity.create_key(
        conn,
        topic,
        args.tenant,
        identity.ROLE_NAMES[args.role],
        agent_id=args.agent,
        team_id=args.team,
        label=args.label,
    )
    print(token)
    print(
        f"{args.role} key {key.key_id} of tenant {key.tenant_id}: shown once; keep it secret",
        file=sys.stderr,
    )
    return 0


async def _list_keys(conn: asyncpg.Connection, topic: str, args: argparse.Namespace) -> int:
    rows = [
        (
            k.key_id,
            k.tenant_id,
            identity.NAME_OF.get(k.role, str(k.role)),
            k.agent_id or k.team_id or "-",
            f"{k.created_at.astimezone(UTC):%F %T}",
            f"{k.revoked_at.astimezone(UTC):%F %T}" if k.revoked_at else "-",
            k.label,
        )
        for k in await _identity.list_keys(conn, args.tenant)
    ]
    _print(("KEY", "TENANT", "ROLE", "SCOPE", "CREATED (UTC)", "REVOKED (UTC)", "LABEL"), rows)
    return 0


async def _revoke_key(conn: asyncpg.Connection, topic: str, args: argparse.Namespace) -> int:
    key = await _identity.revoke_key(conn, topic, identity.key_id_of(args.key_id) or args.key_id)
    when = f"{key.revoked_at.astimezone(UTC):%F %T} UTC" if key.revoked_at else "now"
    print(f"key {key.key_id} of tenant {key.tenant_id} revoked at {when}")
    return 0


def _print(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    if rows:
        _options.table(header, rows)
    else:
        print("(none)")
