"""Background upkeep of the bids package (started from the app lifespan, trading/app.py `_HOOK_MODULES`):
every ten minutes, uploads untouched for UPLOAD_TTL are dropped with their spool files (an abandoned upload is
not a bid; nothing of it is kept)."""
from __future__ import annotations

import logging
from typing import Any

from trading.bids.services import discard_stale_uploads
from trading.blobs import blob_store
from trading.periodic import periodic_hook

log = logging.getLogger("tenderhall.bids")

INTERVAL_SECONDS = 600


async def sweep(app: Any) -> None:
    async with app.state.pool.acquire() as conn, conn.transaction():
        n = await discard_stale_uploads(conn, app.state.clock, blob_store(app.state.settings))
    if n:
        log.info("dropped %d abandoned bid upload(s)", n)


lifespan_hook = periodic_hook("bids-janitor", sweep, INTERVAL_SECONDS, log=log)
