"""Background upkeep of evaluation and award (started from the app lifespan, trading/app.py `_HOOK_MODULES`):
every minute, objections to results unanswered at their due time are logged once as `award:objection:overdue`
(`services.flag_overdue_objections`), and awards without a contract 30 days after the notice as
`award:contract:overdue` (`services.flag_overdue_contracts`). Only a side effect: overdue is also derived from the
clock when read (`list_overdue_objections`, `list_overdue_contracts`), so a late sweep hides nothing."""
from __future__ import annotations

import logging
from typing import Any

from evaluation.services import flag_overdue_contracts, flag_overdue_objections
from trading.periodic import periodic_hook

log = logging.getLogger("tenderhall.evaluation")

INTERVAL_SECONDS = 60


async def sweep(app: Any) -> None:
    async with app.state.pool.acquire() as conn, conn.transaction():
        objections = await flag_overdue_objections(conn, app.state.clock)
        contracts = await flag_overdue_contracts(conn, app.state.clock)
    if objections:
        log.warning("%d objection(s) to results unanswered past their due time", objections)
    if contracts:
        log.warning("%d award(s) without a contract 30 days after the notice", contracts)


lifespan_hook = periodic_hook("evaluation-overdue", sweep, INTERVAL_SECONDS, log=log)
