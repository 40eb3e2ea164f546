"""The `accolade` command: run, migrate and try out the platform."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from pathlib import Path

from accolade import _dead_letter_commands, _identity_commands, _program_commands, catalog
from accolade.runtime import logs
from accolade.runtime.settings import Settings, SettingsError


def _serve(args: argparse.Namespace) -> int:
    from accolade.runtime.server import serve

    settings = Settings.from_env(args.service, os.environ)
    logs.configure(args.service, fmt=settings.log_format, level=settings.log_level)
    if os.environ.get("ACCOLADE_LOCAL_PARENT_PID"):
        from accolade.local.stack import exit_with_parent

        exit_with_parent(os.environ)
    asyncio.run(serve(catalog.load(args.service), settings))
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from accolade.runtime import admin

    settings = Settings.from_env("gateway", os.environ)
    logs.configure("migrate", fmt=settings.log_format, level=settings.log_level)
    definitions = [catalog.load(n) for n in (args.service or catalog.NAMES)]
    # As a container's PID 1 a process gets no default SIGTERM action; exit (and roll the
    # migration's transaction back) instead of waiting to be killed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))

    async def run() -> None:
        await admin.migrate(settings.database_url, definitions)
        if not args.no_topics:
            await admin.create_topics(settings, definitions)

    asyncio.run(run())
    return 0


def _up(args: argparse.Namespace) -> int:
    from accolade.local import stack

    logs.configure("up", level="INFO")
    return stack.up(
        data_dir=Path(args.data_dir).resolve(),
        kafka_port=args.kafka_port,
        port_offset=args.port_offset,
    )


def _demo(args: argparse.Namespace) -> int:
    from accolade.local import demo
    from accolade.local.stack import ADMIN_KEY_FILE, INTEGRATION_KEY_FILE, LOCAL_TENANT

    data_dir = Path(args.data_dir)
    try:
        admin_key, integration_key = (
            args.admin_key or (data_dir / ADMIN_KEY_FILE).read_text().strip(),
            args.integration_key or (data_dir / INTEGRATION_KEY_FILE).read_text().strip(),
        )
    except OSError:
        print(
            f"accolade: no keys in {data_dir}: run `accolade up` first, or pass --admin-key "
            "and --integration-key",
            file=sys.stderr,
        )
        return 2
    return asyncio.run(
        demo.run(
            host=args.host,
            port_offset=args.port_offset,
            tenant=args.tenant or LOCAL_TENANT,
            admin_key=admin_key,
            integration_key=integration_key,
        )
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `accolade` command."""
    parser = argparse.ArgumentParser(prog="accolade", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="run one service (settings from ACCOLADE_* variables)")
    p.add_argument("service", choices=catalog.NAMES)
    p.set_defaults(run=_serve)

    p = sub.add_parser("migrate", help="bring service schemas up to date and create topics")
    p.add_argument(
        "--service", action="append", choices=catalog.NAMES, help="only this service (repeatable)"
    )
    p.add_argument("--no-topics", action="store_true", help="do not create Kafka topics")
    p.set_defaults(run=_migrate)

    p = sub.add_parser("up", help="run the whole platform on this machine; Ctrl-C stops it")
    p.add_argument(
        "--data-dir",
        default=".accolade",
        help="where PostgreSQL keeps its data (default .accolade)",
    )
    p.add_argument(
        "--kafka-port", type=int, default=9092, help="the embedded broker's port (default 9092)"
    )
    p.add_argument(
        "--port-offset", type=int, default=0, help="added to every service's default ports"
    )
    p.set_defaults(run=_up)

    p = sub.add_parser(
        "demo", help="send a morning of activity to a running platform and show the results"
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port-offset", type=int, default=0)
    p.add_argument("--tenant", help="the keys' tenant (default: the local one of `accolade up`)")
    p.add_argument("--data-dir", default=".accolade", help="where `accolade up` keeps its keys")
    p.add_argument("--admin-key", help="an admin key (default: the local one)")
    p.add_argument("--integration-key", help="an integration key (default: the local one)")
    p.set_defaults(run=_demo)

    _dead_letter_commands.add_parser(sub)
    _identity_commands.add_parsers(sub)
    _program_commands.add_parsers(sub)

    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except SettingsError as exc:
        print(f"accolade: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
