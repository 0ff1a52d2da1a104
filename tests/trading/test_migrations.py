import asyncpg
import pytest

from trading import db


async def test_migrations_run_twice_is_a_noop(database_url):
    conn = await asyncpg.connect(database_url)
    try:
        before = await conn.fetchval("SELECT count(*) FROM schema_migrations")
        assert before == len(db.migration_files()) > 0
        assert await db.upgrade(conn) == []
        assert await db.upgrade(conn) == []
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == before
    finally:
        await conn.close()


async def test_migrations_apply_in_package_order():
    files = db.migration_files()
    packages = [p for p, _, _ in files]
    order = {p: i for i, p in enumerate(db.MIGRATION_PACKAGES)}
    assert [order[p] for p in packages] == sorted(order[p] for p in packages)
    trading = [n for p, n, _ in files if p == "trading"]
    assert trading == sorted(trading)


async def test_failed_migration_leaves_nothing(database_url, monkeypatch):
    conn = await asyncpg.connect(database_url)
    try:
        bad = [("trading", "9999_broken.sql", "CREATE TABLE half_made (id int); SELECT * FROM no_such_table;")]
        monkeypatch.setattr(db, "migration_files", lambda: bad)
        try:
            await db.upgrade(conn)
        except asyncpg.UndefinedTableError:
            pass
        else:  # pragma: no cover
            raise AssertionError("broken migration applied")
        assert await conn.fetchval("SELECT to_regclass('half_made')") is None
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations WHERE name = '9999_broken.sql'") == 0
    finally:
        await conn.close()


async def test_a_migration_changed_after_it_was_applied_is_refused_and_nothing_is_applied(database_url, monkeypatch):
    conn = await asyncpg.connect(database_url)
    try:
        files = db.migration_files()
        package, name, sql = files[0]
        edited = [(package, name, sql + "\n-- edited afterwards\n"), *files[1:],
                  ("trading", "9999_new.sql", "CREATE TABLE not_yet (id int);")]
        monkeypatch.setattr(db, "migration_files", lambda: edited)
        with pytest.raises(db.MigrationChanged, match=f"{package}/{name}"):
            await db.upgrade(conn)
        assert await conn.fetchval("SELECT to_regclass('not_yet')") is None
        monkeypatch.setattr(db, "migration_files", lambda: files)
        assert await db.upgrade(conn) == []  # the files as applied: up to date
    finally:
        await conn.close()
