"""What the expert pool does when the core reports a lot failed (流标) or cancelled: its committee is no longer
needed, so outstanding invitations are withdrawn and the experts told (trading/events.py)."""
from __future__ import annotations

from typing import Any

import asyncpg

from expert_pool.services import withdraw_draw
from trading.clock import Clock
from trading.events import subscribe


async def on_lot_failed(conn: asyncpg.Connection, clock: Clock, payload: dict[str, Any]) -> None:
    await withdraw_draw(conn, clock, payload["lot_id"], reason=payload.get("reason") or "lot failed")


async def on_tender_cancelled(conn: asyncpg.Connection, clock: Clock, payload: dict[str, Any]) -> None:
    for lot_id in payload.get("lot_ids") or []:
        await withdraw_draw(conn, clock, lot_id, reason=payload.get("reason") or "tender cancelled")


subscribe("lot.failed", on_lot_failed)
subscribe("tender.cancelled", on_tender_cancelled)
