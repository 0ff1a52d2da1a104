"""The daily ledger check as a background task (trading/app.py `_HOOK_MODULES`): every ten minutes the app looks
whether today's check (Asia/Shanghai) has run once it is past CHECK_AT, and runs it if not — once per day across
all app processes (a row per day is taken first). `tenderhall deposits check` still runs it by hand. A mismatch is
raised as an issue on the finance page and logged (`deposit:ledger:check`), never hidden (deposits/ledger.py)."""
from __future__ import annotations

import logging
from datetime import time
from typing import Any

import asyncpg

from deposits import ledger
from trading.clock import Clock
from trading.clock import SHANGHAI
from trading.periodic import periodic_hook

log = logging.getLogger("tenderhall.deposits")

INTERVAL_SECONDS = 600
CHECK_AT = time(2, 0)  # after the banks' end-of-day statements have arrived


async def run_daily_check(conn: asyncpg.Connection, clock: Clock) -> dict[str, Any] | None:
    """Today's check if it is due and nobody ran it yet; None otherwise. In the caller's transaction."""
    local = clock.now().astimezone(SHANGHAI)
    if local.time() < CHECK_AT:
        return None
    taken = await conn.fetchval(
        "INSERT INTO deposit_ledger_check_runs (day, started_at) VALUES ($1, $2) ON CONFLICT DO NOTHING"
        " RETURNING true", local.date(), clock.now())
    if not taken:
        return None
    report = await ledger.check(conn, clock)
    await conn.execute("UPDATE deposit_ledger_check_runs SET ok = $2 WHERE day = $1", local.date(), report["ok"])
    return report


async def step(app: Any) -> None:
    async with app.state.pool.acquire() as conn, conn.transaction():
        report = await run_daily_check(conn, app.state.clock)
    if report is not None and not report["ok"]:
        log.warning("the daily ledger check found a mismatch: see the finance page")


lifespan_hook = periodic_hook("deposits-daily-check", step, INTERVAL_SECONDS, log=log)
