"""Background upkeep of the bids package (started from the app lifespan, trading/app.py `_HOOK_MODULES`):
every ten minutes, uploads untouched for UPLOAD_TTL are dropped with their spool files (an abandoned upload is
not a bid; nothing of it is kept)."""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from trading.bids.services import discard_stale_uploads
from trading.blobs import blob_store

log = logging.getLogger("tenderhall.bids")

INTERVAL_SECONDS = 600


async def run_janitor(pool: Any, clock: Any, settings: Any, interval: float = INTERVAL_SECONDS) -> None:
    store = blob_store(settings)
    while True:
        try:
            async with pool.acquire() as conn, conn.transaction():
                n = await discard_stale_uploads(conn, clock, store)
            if n:
                log.info("dropped %d abandoned bid upload(s)", n)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - keep going after a transient database error
            log.exception("bid upload janitor failed; retrying")
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def lifespan_hook(app: Any) -> AsyncIterator[None]:
    settings = app.state.settings
    if not settings.background:
        yield
        return
    task = asyncio.create_task(run_janitor(app.state.pool, app.state.clock, settings), name="bids-janitor")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
