"""The database: connection pool, embedded server, migrations, and the per-request transaction.

PostgreSQL is the system of record. Migrations are plain SQL files, applied in order, each in its own
transaction, recorded in `schema_migrations`; re-running is a no-op.
"""
from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncGenerator
from importlib import resources
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
from litestar.datastructures import State

log = logging.getLogger("tenderhall.db")

# Packages whose `migrations/` folders are applied, in this order (the core first: the others build on it).
MIGRATION_PACKAGES = ("trading", "deposits", "expert_pool", "evaluation")

# A fixed key for the advisory lock that serialises migration runs across processes.
_MIGRATION_LOCK = 0x7E4D_0001


def embedded_database_url(data_dir: Path) -> str:
    """Start (or reuse) the embedded PostgreSQL in data_dir/pg and return its URL."""
    import pgserver  # heavy import, only when embedded

    pgdata = (data_dir / "pg").resolve()
    pgdata.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(pgdata, cleanup_mode=None)
    return server.get_uri()


def resolve_database_url(settings: Any) -> str:
    return settings.database_url or embedded_database_url(settings.data_dir)


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.execute("SET TIME ZONE 'UTC'")
    await conn.set_type_codec("jsonb", encoder=_json_encode, decoder=_json_decode, schema="pg_catalog")


def _json_encode(value: Any) -> str:
    return msgspec.json.encode(value).decode()


def _json_decode(value: str) -> Any:
    return msgspec.json.decode(value)


async def _reset_connection(conn: asyncpg.Connection) -> None:
    """Reset a pooled connection on release: nothing to do beyond asyncpg's own rollback of an open transaction.

    asyncpg's default reset runs `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL;` on every
    release (a round trip and ~9% of the server's CPU in the bid surge). Pool connections never hold session
    state: nobody LISTENs on them (the opening hall listens on its own connection, trading/opening/live.py),
    every advisory lock they take is transaction-scoped (`pg_advisory_xact_lock`) except the migration lock,
    which `upgrade` releases in a `finally`; no cursor is declared WITH HOLD; no session variable is SET
    after `_init_connection` (which sets the time zone, and that must stay). An open transaction is still
    rolled back by the pool before this runs.
    """


async def create_pool(url: str, *, min_size: int = 2, max_size: int = 10) -> asyncpg.Pool:
    return await asyncpg.create_pool(url, min_size=min_size, max_size=max_size, init=_init_connection,
                                     reset=_reset_connection)


def _sha256(sql: str) -> str:
    return hashlib.sha256(sql.encode()).hexdigest()


def migration_files() -> list[tuple[str, str, str]]:
    """(package, file name, sql) for every migration, in the order they are applied."""
    found: list[tuple[str, str, str]] = []
    for package in MIGRATION_PACKAGES:
        try:
            folder = resources.files(package) / "migrations"
        except ModuleNotFoundError:
            continue
        if not folder.is_dir():
            continue
        for item in sorted(folder.iterdir(), key=lambda p: p.name):
            if item.name.endswith(".sql"):
                found.append((package, item.name, item.read_text(encoding="utf-8")))
    return found


class MigrationChanged(RuntimeError):
    """A migration file differs from the one applied to this database (its recorded SHA-256)."""


async def upgrade(conn: asyncpg.Connection) -> list[str]:
    """Apply every migration not applied yet; return the names applied now.

    An applied migration whose file has changed since is refused (MigrationChanged) before anything is applied:
    the database would otherwise silently lack the change. A change to the schema is a new migration."""
    await conn.execute(
        """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            package text NOT NULL,
            name text NOT NULL,
            sha256 text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (package, name)
        )"""
    )
    applied: list[str] = []
    await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
    try:
        done = {(r["package"], r["name"]): r["sha256"]
                for r in await conn.fetch("SELECT package, name, sha256 FROM schema_migrations")}
        files = migration_files()
        changed = [f"{package}/{name}" for package, name, sql in files
                   if done.get((package, name), _sha256(sql)) != _sha256(sql)]
        if changed:
            raise MigrationChanged(
                f"migration(s) {', '.join(changed)} changed after they were applied to this database: restore the "
                "file(s) as applied and put the change in a new migration")
        for package, name, sql in files:
            if (package, name) in done:
                continue
            async with conn.transaction():
                await conn.execute(sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (package, name, sha256) VALUES ($1, $2, $3)",
                    package, name, _sha256(sql),
                )
            applied.append(f"{package}/{name}")
            log.info("applied migration %s/%s", package, name)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)
    return applied


async def provide_conn(state: State) -> AsyncGenerator[asyncpg.Connection, None]:
    """One transaction per request: commit when the handler returns, roll back on any error."""
    pool: asyncpg.Pool = state.pool
    async with pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        try:
            yield conn
        except BaseException:
            await tx.rollback()
            raise
        else:
            await tx.commit()
