"""Background upkeep of the bids package (started from the app lifespan, trading/app.py `_HOOK_MODULES`):
every ten minutes, uploads untouched for UPLOAD_TTL are dropped with their spool files (an abandoned upload is
not a bid; nothing of it is kept)."""
from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from trading.bids.services import discard_stale_uploads
from trading.blobs import blob_store
from trading.periodic import background_task, repeat

log = logging.getLogger("tenderhall.bids")

INTERVAL_SECONDS = 600


async def run_janitor(pool: Any, clock: Any, settings: Any, interval: float = INTERVAL_SECONDS) -> None:
    store = blob_store(settings)

    async def step() -> None:
        async with pool.acquire() as conn, conn.transaction():
            n = await discard_stale_uploads(conn, clock, store)
        if n:
            log.info("dropped %d abandoned bid upload(s)", n)

    await repeat(step, interval, log=log, what="bid upload janitor")


@contextlib.asynccontextmanager
async def lifespan_hook(app: Any) -> AsyncIterator[None]:
    settings = app.state.settings
    if not settings.background:
        yield
        return
    async with background_task(run_janitor(app.state.pool, app.state.clock, settings), "bids-janitor"):
        yield
