"""The checkpoint signer: a background task started from the app lifespan (trading/app.py calls
`lifespan_hook`). Every half second it signs the committed head if the log grew, so a checkpoint exists
within a second of any entry. Several app processes may run it: a try-lock lets one sign at a time.
"""
from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from trading.records.certs import ensure_document_pki
from trading.records.checkpoints import sign_if_grown
from trading.records.keys import load_platform_key
from trading.periodic import background_task, repeat
from trading.records.log import configure_log

log = logging.getLogger("tenderhall.records")

INTERVAL_SECONDS = 0.5


async def run_signer(pool: Any, clock: Any, settings: Any, interval: float = INTERVAL_SECONDS) -> None:
    async def step() -> None:
        async with pool.acquire() as conn:
            await sign_if_grown(conn, clock, settings)

    await repeat(step, interval, log=log, what="checkpoint signer")


@contextlib.asynccontextmanager
async def lifespan_hook(app: Any) -> AsyncIterator[None]:
    settings = app.state.settings
    if not settings.background:
        yield
        return
    # Keys on first start (not at the first request), so the operator can back them up at once.
    load_platform_key(settings)
    ensure_document_pki(settings)
    async with app.state.pool.acquire() as conn:
        await configure_log(conn, settings.origin)
        stored = await conn.fetchval("SELECT origin FROM log_head WHERE id")
        if stored and stored != settings.origin:
            # A log's origin cannot change: its entries already name the old one.
            log.error("settings.origin is %r but the log's origin is %r; checkpoints would not match the "
                      "entries — restore TENDERHALL_ORIGIN", settings.origin, stored)
    async with background_task(run_signer(app.state.pool, app.state.clock, settings), "records-signer"):
        yield
