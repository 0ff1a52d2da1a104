"""The opening's lifespan hook: the process's live-hall listener, and (when settings.background) the scanner
that starts openings at the deadline and keeps unsealing going.

The scanner reads everything from the database each round, so a missed round, a restart or several processes
change nothing: `pass_deadline` and `run_unsealing` are idempotent and lock the rows they change. The deadline
itself never depends on this loop (招标投标法 第三十四条: bids are refused by the clock at read time); the loop
only triggers the side effects — the deadline entry, the checkpoint, the start of the opening.
"""
from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from trading.opening import repository as repo
from trading.opening import services
from trading.opening.live import HallHub
from trading.periodic import background_task, repeat

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
    await repeat(lambda: scan_once(state.pool, state.clock, state.settings), SCAN_SECONDS, log=log,
                 what="opening scan")


@contextlib.asynccontextmanager
async def lifespan_hook(app: Any) -> AsyncIterator[None]:
    hub = HallHub(app.state.database_url)
    await hub.start()
    app.state.hall_hub = hub
    try:
        if app.state.settings.background:
            async with background_task(_scanner(app), "opening-scanner"):
                yield
        else:
            yield
    finally:
        await hub.stop()
