"""Background upkeep of evaluation and award (started from the app lifespan, trading/app.py `_HOOK_MODULES`):
every minute, objections to results unanswered at their due time are logged once as `award:objection:overdue`
(`services.flag_overdue_objections`), and awards without a contract 30 days after the notice as
`award:contract:overdue` (`services.flag_overdue_contracts`). Only a side effect: overdue is also derived from the
clock when read (`list_overdue_objections`, `list_overdue_contracts`), so a late sweep hides nothing."""
from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from evaluation.services import flag_overdue_contracts, flag_overdue_objections
from trading.periodic import background_task, repeat

log = logging.getLogger("tenderhall.evaluation")

INTERVAL_SECONDS = 60


async def run_sweep(pool: Any, clock: Any, interval: float = INTERVAL_SECONDS) -> None:
    async def step() -> None:
        async with pool.acquire() as conn, conn.transaction():
            n = await flag_overdue_objections(conn, clock)
            contracts = await flag_overdue_contracts(conn, clock)
        if n:
            log.warning("%d objection(s) to results unanswered past their due time", n)
        if contracts:
            log.warning("%d award(s) without a contract 30 days after the notice", contracts)

    await repeat(step, interval, log=log, what="evaluation overdue sweep")


@contextlib.asynccontextmanager
async def lifespan_hook(app: Any) -> AsyncIterator[None]:
    if not app.state.settings.background:
        yield
        return
    async with background_task(run_sweep(app.state.pool, app.state.clock), "evaluation-overdue-objections"):
        yield
