"""In-transaction domain events: how the core tells packages that build on it that something happened,
without importing them (the arrows point one way).

A package subscribes at import time (`deposits/subscriptions.py` calls `subscribe(...)`); the composition root
(`trading/app.py`, and the CLI) imports the subscription modules. `emit` runs every handler in the caller's
transaction, so a failing handler rolls the whole change back.

Events and their payloads (add yours here, documented):
- "bid.withdrawn"      {lot_id, bidder_org_id, bid_id}                       before the deadline
- "lot.failed"         {lot_id, tender_id, reason}                            流标
- "lot.opened"         {lot_id, tender_id}                                    unsealing finished
- "tender.cancelled"   {tender_id, lot_ids, reason}                           terminated
- "lot.awarded"        {lot_id, tender_id, winner_org_id, notice_at}          award notice issued
- "contract.signed"    {lot_id, winner_org_id, signed_at}
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from trading.clock import Clock

Handler = Callable[[asyncpg.Connection, Clock, dict[str, Any]], Awaitable[None]]

_HANDLERS: dict[str, list[Handler]] = defaultdict(list)

SUBSCRIPTION_MODULES = ("deposits.subscriptions", "expert_pool.subscriptions", "evaluation.subscriptions")


def subscribe(event: str, handler: Handler) -> None:
    if handler not in _HANDLERS[event]:
        _HANDLERS[event].append(handler)


def handlers(event: str) -> list[Handler]:
    return list(_HANDLERS.get(event, ()))


async def emit(conn: asyncpg.Connection, clock: Clock, event: str, payload: dict[str, Any]) -> None:
    for handler in handlers(event):
        await handler(conn, clock, payload)


def load_subscriptions() -> None:
    """Import every package's subscriptions (called by the composition roots)."""
    import importlib

    for name in SUBSCRIPTION_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
