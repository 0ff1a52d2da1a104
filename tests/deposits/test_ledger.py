from __future__ import annotations

import asyncpg
import pytest

from deposits import importing, ledger
from deposits import repository as repo


async def test_ledger_unbalanced_journal_is_refused_at_commit(pool, clock):
    async with pool.acquire() as c:
        with pytest.raises(asyncpg.exceptions.CheckViolationError, match="unbalanced"):
            async with c.transaction():
                await repo.insert_journal(c, "t:1", "test", None, "", clock.now(),
                                          [("bank:x:1:CNY", "CNY", 100, None), ("suspense:x:CNY", "CNY", -99, None)])
        assert await c.fetchval("SELECT count(*) FROM ledger_journals") == 0


async def test_ledger_journal_without_postings_is_refused(pool, clock):
    async with pool.acquire() as c:
        with pytest.raises(asyncpg.exceptions.CheckViolationError, match="no postings"):
            async with c.transaction():
                await c.execute("INSERT INTO ledger_journals (idem_key, kind, created_at) VALUES ('e', 'x', now())")


async def test_ledger_is_append_only(pool, clock):
    async with pool.acquire() as c:
        async with c.transaction():
            jid = await repo.insert_journal(c, "t:2", "test", None, "", clock.now(),
                                            [("a", "CNY", 5, None), ("b", "CNY", -5, None)])
        for sql in ("UPDATE ledger_postings SET debit_fen = 6 WHERE journal_id = $1",
                    "DELETE FROM ledger_postings WHERE journal_id = $1",
                    "UPDATE ledger_journals SET memo = 'x' WHERE id = $1"):
            with pytest.raises(asyncpg.exceptions.InsufficientPrivilegeError):
                async with c.transaction():
                    await c.execute(sql, jid)
        # nor can a committed journal gain postings later (it was checked once)
        with pytest.raises(asyncpg.exceptions.InsufficientPrivilegeError):
            async with c.transaction():
                await c.execute("INSERT INTO ledger_postings (journal_id, account, currency, debit_fen) "
                                "VALUES ($1, 'a', 'CNY', 1)", jid)


async def test_ledger_posting_into_a_missing_journal_is_refused(pool, clock):
    async with pool.acquire() as c:
        with pytest.raises(asyncpg.exceptions.ForeignKeyViolationError, match="no such journal"):
            async with c.transaction():
                await c.execute("INSERT INTO ledger_postings (journal_id, account, currency, debit_fen) "
                                "VALUES (-1, 'a', 'CNY', 1)")


async def test_ledger_idempotency_key_is_unique(pool, clock):
    async with pool.acquire() as c, c.transaction():
        lines = [("a", "CNY", 5, None), ("b", "CNY", -5, None)]
        assert await repo.insert_journal(c, "t:3", "test", None, "", clock.now(), lines) is not None
        assert await repo.insert_journal(c, "t:3", "test", None, "", clock.now(), lines) is None


async def test_ledger_check_matches_consistent_statements(pool, clock, bank, samples):
    async with pool.acquire() as c:
        async with c.transaction():
            await importing.import_path(c, clock, bank, samples / "camt053.001.02_genkgo_multi_statement.xml",
                                        actor=None)
        async with c.transaction():
            report = await ledger.check(c, clock)
    assert report["ok"], report
    assert report["accounts"][0]["bank_fen"] == 2000 == report["accounts"][0]["ledger_fen"]


async def test_ledger_check_raises_a_statement_that_does_not_add_up(pool, clock, bank, samples):
    async with pool.acquire() as c:
        async with c.transaction():
            res = await importing.import_path(c, clock, bank, samples / "camt053.001.02_OCA_nl_eur_reversal_batch.xml",
                                              actor=None)
        assert any("balance_mismatch" in n for n in res.notes)
        async with c.transaction():
            report = await ledger.check(c, clock)
        assert not report["ok"]
        kinds = {r["kind"] for r in await repo.list_open_issues(c)}
    assert {"bank_balance_mismatch", "statement_arithmetic"} <= kinds


async def test_the_app_runs_the_ledger_check_once_a_day_after_two_in_the_morning(pool, clock, settings):
    """deposits/background.py: due from 02:00 Asia/Shanghai, once per day whichever process asks first."""
    import asyncio
    from datetime import datetime
    from zoneinfo import ZoneInfo

    import msgspec
    from litestar.testing import AsyncTestClient

    from deposits.background import run_daily_check
    from trading.app import create_app

    sh = ZoneInfo("Asia/Shanghai")
    clock.set(datetime(2026, 12, 7, 1, 59, tzinfo=sh))
    async with pool.acquire() as c, c.transaction():
        assert await run_daily_check(c, clock) is None                    # not yet due
    clock.set(datetime(2026, 12, 7, 2, 0, tzinfo=sh))
    async with pool.acquire() as c, c.transaction():
        report = await run_daily_check(c, clock)
        assert report is not None and report["ok"]
    async with pool.acquire() as c, c.transaction():
        assert await run_daily_check(c, clock) is None                    # once a day
    clock.set(datetime(2026, 12, 8, 3, 0, tzinfo=sh))
    app = create_app(msgspec.structs.replace(settings, background=True), clock)
    async with AsyncTestClient(app=app):                                   # the app runs it by itself
        for _ in range(100):
            async with pool.acquire() as c:
                if await c.fetchval("SELECT ok FROM deposit_ledger_check_runs WHERE day = '2026-12-08'"):
                    break
            await asyncio.sleep(0.05)
    async with pool.acquire() as c:
        assert await c.fetchval("SELECT count(*) FROM deposit_ledger_check_runs") == 2
        assert await c.fetchval("SELECT count(*) FROM log_entries WHERE tag = 'deposit:ledger:check'") == 2
