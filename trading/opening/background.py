"""The opening's lifespan hook: the process's live-hall listener, and (when settings.background) the scanner
that starts openings at the deadline and keeps unsealing going.

The scanner reads everything from the database each round, so a missed round, a restart or several processes
change nothing: `pass_deadline` and `run_unsealing` are idempotent and lock the rows they change. The deadline
itself never depends on this loop (招标投标法 第三十四条: bids are refused by the clock at read time); the loop
only triggers the side effects — the deadline entry, the checkpoint, the start of the opening.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from trading.opening import repository as repo
from trading.opening import services
from trading.opening.live import HallHub

log = logging.getLogger("tenderhall.opening.background")

SCAN_SECONDS = 1.0


async def scan_once(pool, clock, settings) -> None:
    await services.start_due_openings(pool, clock, settings)
    async with pool.acquire() as conn:
        lots = await repo.list_sessions_unsealing(conn)
    for lot_id in lots:
        try:
            await services.run_unsealing(pool, clock, settings, lot_id)
        except Exception:  # noqa: BLE001 - retried next round
            log.exception("unsealing lot %s failed", lot_id)
    async with pool.acquire() as conn:
        unstored = await repo.list_lots_with_unstored_attachments(conn)
    for lot_id in unstored:
        try:
            await services.store_attachments(pool, settings, lot_id)
        except Exception:  # noqa: BLE001 - retried next round
            log.exception("storing attachments of lot %s failed", lot_id)


async def _scanner(app: Any) -> None:
    state = app.state
    while True:
        try:
            await scan_once(state.pool, state.clock, state.settings)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - keep scanning
            log.exception("opening scan failed")
        await asyncio.sleep(SCAN_SECONDS)


@contextlib.asynccontextmanager
async def lifespan_hook(app: Any) -> AsyncIterator[None]:
    hub = HallHub(app.state.database_url)
    await hub.start()
    app.state.hall_hub = hub
    task = asyncio.create_task(_scanner(app), name="opening-scanner") if app.state.settings.background else None
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await hub.stop()
