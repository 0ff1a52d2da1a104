"""The `tenderhall` command.

Each package adds its own subcommands with a `register(subparsers)` function in its `cli` module (listed in
CLI_MODULES); like app.py, this is a composition root. Commands that a bidder or custodian runs on their own
machine (bid seal, custodian unseal, verify) import nothing that needs a server.
"""
from __future__ import annotations

import argparse
import asyncio
import getpass
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from rich.console import Console

console = Console(stderr=True)

CLI_MODULES = (
    "trading.records.cli",
    "trading.bids.cli",
    "trading.opening.cli",
    "deposits.cli",
    "expert_pool.cli",
    "evaluation.cli",
)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from trading.app import create_app
    from trading.settings import load_settings

    settings = load_settings()
    host = args.host or settings.host
    port = args.port or settings.port
    if not settings.database_url:
        console.print(f"[bold]No DATABASE_URL[/]: starting the embedded PostgreSQL in {settings.data_dir / 'pg'}")
    console.print(f"tenderhall on [link]http://{host}:{port}[/link]  (API docs: http://{host}:{port}/api/docs)")
    uvicorn.run(create_app(settings), host=host, port=port, workers=None, log_level=args.log_level,
                access_log=args.access_log)
    return 0


async def _with_conn(fn):
    from trading import db
    from trading.settings import load_settings

    settings = load_settings()
    url = db.resolve_database_url(settings)
    pool = await db.create_pool(url, min_size=1, max_size=2)
    try:
        async with pool.acquire() as conn:
            return await fn(conn, settings)
    finally:
        await pool.close()


def _db_upgrade(_: argparse.Namespace) -> int:
    from trading import db

    async def run(conn, settings):
        return await db.upgrade(conn)

    try:
        applied = asyncio.run(_with_conn(run))
    except db.MigrationChanged as exc:
        console.print(f"[red]{exc}[/]")
        return 1
    if applied:
        for name in applied:
            console.print(f"applied {name}")
    else:
        console.print("database is up to date")
    return 0


def _user_create(args: argparse.Namespace) -> int:
    from trading import db
    from trading.accounts import services
    from trading.accounts.schemas import Role, UserCreate
    from trading.clock import SystemClock
    from trading.errors import DomainError

    password = args.password or os.environ.get("TENDERHALL_PASSWORD")
    if not password:
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            console.print("[red]passwords differ[/]")
            return 2

    async def run(conn, settings):
        await db.upgrade(conn)
        async with conn.transaction():
            return await services.create_user(
                conn, SystemClock(),
                UserCreate(username=args.username, display_name=args.display_name or args.username,
                           password=password, roles=[Role(r) for r in args.role], org_id=args.org),
                actor=None,
            )

    try:
        user = asyncio.run(_with_conn(run))
    except DomainError as exc:
        console.print(f"[red]{exc.code}[/]: {exc.message}")
        return 2
    console.print(f"created user [bold]{user.username}[/] ({', '.join(user.roles)}) id={user.id}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tenderhall", description="tenderhall: public-resource trading platform")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="run the platform (embedded PostgreSQL when DATABASE_URL is not set)")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--log-level", default="info")
    p.add_argument("--access-log", action=argparse.BooleanOptionalAction, default=True)
    p.set_defaults(func=_serve)

    dbp = sub.add_parser("db", help="database maintenance").add_subparsers(dest="db_command", required=True)
    p = dbp.add_parser("upgrade", help="apply pending migrations (a no-op when up to date)")
    p.set_defaults(func=_db_upgrade)

    up = sub.add_parser("user", help="user accounts").add_subparsers(dest="user_command", required=True)
    p = up.add_parser("create", help="create a user (e.g. the first admin)")
    p.add_argument("username")
    p.add_argument("--role", action="append", required=True,
                   choices=["admin", "agency", "bidder", "custodian", "expert", "regulator", "witness"])
    p.add_argument("--display-name")
    p.add_argument("--org", help="organisation id")
    p.add_argument("--password", help="else $TENDERHALL_PASSWORD, else asked")
    p.set_defaults(func=_user_create)

    for name in CLI_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from trading.events import load_subscriptions

    load_subscriptions()
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(message)s")
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
