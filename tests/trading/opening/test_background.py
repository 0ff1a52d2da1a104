"""The automatic opening: the lifespan scanner (settings.background) starts the opening at the deadline and keeps
unsealing going; nothing happens before the deadline."""
from __future__ import annotations

import asyncio
from datetime import timedelta

import msgspec
from litestar.testing import AsyncTestClient

from trading.app import create_app
from trading.opening import repository as repo


async def _wait_for(pred, timeout: float = 15.0) -> bool:
    end = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < end:
        if await pred():
            return True
        await asyncio.sleep(0.2)
    return False


async def test_scanner_opens_at_deadline_and_unseals_without_any_request(opening, settings):
    for p in ("950000.00", "980000.00", "1010000.00"):
        await opening.submit(await opening.bidder(), p)
    app = create_app(msgspec.structs.replace(settings, background=True), opening.clock)

    async def session():
        async with opening.pool.acquire() as c:
            return await repo.find_session(c, opening.lot_id)

    async with AsyncTestClient(app=app):
        opening.clock.set(opening.deadline - timedelta(seconds=1))
        await asyncio.sleep(2.5)  # a couple of scans before the deadline: nothing may happen
        assert await session() is None
        assert await opening.lot_status() == "published"
        opening.after_deadline()
        assert await _wait_for(lambda: _is(session, "unsealing"))
        await opening.release(0)
        await opening.release(1)
        assert await _wait_for(lambda: _is(session, "published"))

        async def attachments_stored() -> bool:
            async with opening.pool.acquire() as c:
                return await c.fetchval("SELECT count(*) FROM opened_bids WHERE NOT attachments_stored") == 0

        # Attachments are written after the record is published, by a later scan: wait for that while the app
        # (and so its scanner) still runs, instead of racing the shutdown.
        assert await _wait_for(attachments_stored)
    assert len([o for o in await opening.opened() if o.status == "opened"]) == 3


async def _is(session, status: str) -> bool:
    s = await session()
    return s is not None and s.status == status
