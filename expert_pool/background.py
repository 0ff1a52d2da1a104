"""The invitation sweep as a background task (trading/app.py starts `lifespan_hook`).

Every few seconds, in its own transaction: time out unanswered invitations by the app's clock, bring in the next
alternates, deliver the notification outbox. Several app processes may run it: rows are taken with SKIP LOCKED.
"""
from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from expert_pool.notify import InboxSender, Sender
from expert_pool.services import sweep
from trading.periodic import background_task, repeat

log = logging.getLogger("tenderhall.expert_pool")

INTERVAL_SECONDS = 5.0


async def run_sweeper(pool: Any, clock: Any, sender: Sender, interval: float = INTERVAL_SECONDS) -> None:
    async def step() -> None:
        async with pool.acquire() as conn, conn.transaction():
            result = await sweep(conn, clock, sender=sender)
        if result["timed_out"] or result["failed"]:
            log.info("expert sweep: %s", result)

    await repeat(step, interval, log=log, what="expert sweep")


@contextlib.asynccontextmanager
async def lifespan_hook(app: Any) -> AsyncIterator[None]:
    if not app.state.settings.background:
        yield
        return
    sender = getattr(app.state, "expert_sender", None) or InboxSender()
    async with background_task(run_sweeper(app.state.pool, app.state.clock, sender), "expert-sweeper"):
        yield
