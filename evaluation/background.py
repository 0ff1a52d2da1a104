"""Background upkeep of evaluation and award (started from the app lifespan, trading/app.py `_HOOK_MODULES`),
every minute:

- government-procurement lots whose purchaser has not determined the winner within 5 working days of receiving the
  report get rank 1 as the winner (87号令 第六十八条; `services.deem_overdue_determinations`), logged once as
  `award:winner:deem` in the same transaction as the change;
- objections to results unanswered at their due time are logged once as `award:objection:overdue`
  (`services.flag_overdue_objections`);
- awards without a contract 30 days after the notice as `award:contract:overdue` and, for projects that must be
  tendered, without the report to the supervisor 15 days after it as `award:report:overdue`
  (`services.flag_overdue_duties`).
- government-procurement orders to suspend that have run their 30 days (政府采购法 第五十七条) are lifted and logged
  as `complaint:tender:resume` with `lapsed` (`complaints.services.lapse_suspensions`); the order stopped holding
  the tender at that instant already, by the clock (`trading.tenders.schemas.under_order`).

The overdue entries are only a side effect: overdue is also derived from the clock when read
(`list_overdue_objections`, `list_overdue_duties`), and the award of a lot whose decision period has run out deems
rank 1 itself if the sweep has not yet come by, so a late sweep hides nothing."""
from __future__ import annotations

import logging
from typing import Any

from evaluation.complaints.services import lapse_suspensions
from evaluation.services import (
    deem_overdue_determinations,
    flag_overdue_duties,
    flag_overdue_objections,
)
from trading.periodic import periodic_hook

log = logging.getLogger("tenderhall.evaluation")

INTERVAL_SECONDS = 60


async def sweep(app: Any) -> None:
    async with app.state.pool.acquire() as conn, conn.transaction():
        deemed = await deem_overdue_determinations(conn, app.state.clock)
        objections = await flag_overdue_objections(conn, app.state.clock)
        duties = await flag_overdue_duties(conn, app.state.clock)
        lapsed = await lapse_suspensions(conn, app.state.clock)
    if deemed:
        log.warning("%d government-procurement winner(s) deemed: rank 1, the purchaser did not decide in time",
                    deemed)
    if objections:
        log.warning("%d objection(s) to results unanswered past their due time", objections)
    if lapsed:
        log.warning("%d government-procurement suspension order(s) lapsed after 30 days", lapsed)
    for duty, n in duties.items():
        if n:
            log.warning("%d award(s) overdue for their %s", n, duty.replace("_", " "))


lifespan_hook = periodic_hook("evaluation-overdue", sweep, INTERVAL_SECONDS, log=log)
