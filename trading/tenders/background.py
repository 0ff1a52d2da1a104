"""Background upkeep of the tenders package (started from the app lifespan, trading/app.py `_HOOK_MODULES`):
every minute, objections unanswered at their due time are logged once as `tender:objection:overdue`
(`services.flag_overdue_objections`). Only a side effect: whether an objection is overdue is also derived from the
clock whenever it is read (`list_overdue_objections`), so a late sweep hides nothing."""
from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from trading.periodic import background_task, repeat
from trading.tenders.services import flag_overdue_objections

log = logging.getLogger("tenderhall.tenders")

INTERVAL_SECONDS = 60


async def run_sweep(pool: Any, clock: Any, interval: float = INTERVAL_SECONDS) -> None:
    async def step() -> None:
        async with pool.acquire() as conn, conn.transaction():
            n = await flag_overdue_objections(conn, clock)
        if n:
            log.warning("%d objection(s) unanswered past their due time", n)

    await repeat(step, interval, log=log, what="overdue objection sweep")


@contextlib.asynccontextmanager
async def lifespan_hook(app: Any) -> AsyncIterator[None]:
    if not app.state.settings.background:
        yield
        return
    async with background_task(run_sweep(app.state.pool, app.state.clock), "tenders-overdue-objections"):
        yield
