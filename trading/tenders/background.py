"""Background upkeep of the tenders package (started from the app lifespan, trading/app.py `_HOOK_MODULES`):
every minute, objections unanswered at their due time are logged once as `tender:objection:overdue`
(`services.flag_overdue_objections`). Only a side effect: whether an objection is overdue is also derived from the
clock whenever it is read (`list_overdue_objections`), so a late sweep hides nothing."""
from __future__ import annotations

import logging
from typing import Any

from trading.periodic import periodic_hook
from trading.tenders.services import flag_overdue_objections

log = logging.getLogger("tenderhall.tenders")

INTERVAL_SECONDS = 60


async def sweep(app: Any) -> None:
    async with app.state.pool.acquire() as conn, conn.transaction():
        n = await flag_overdue_objections(conn, app.state.clock)
    if n:
        log.warning("%d objection(s) unanswered past their due time", n)


lifespan_hook = periodic_hook("tenders-overdue-objections", sweep, INTERVAL_SECONDS, log=log)
