import asyncpg

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
