"""The deposit column of the opening record (开标记录表), filled by whoever knows about deposits.

The core cannot import `deposits` (the arrows point one way), so the deposits package registers a lookup at
import time (`deposits/subscriptions.py`):

    from trading.opening.deposit_status import register_deposit_lookup
    register_deposit_lookup(my_lookup)   # async (conn, lot_id, [org_id]) -> {org_id: "已缴纳（银行转账）"}

Without one, every bidder's deposit reads 未核验 (not checked).
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from uuid import UUID

import asyncpg

NOT_CHECKED = "未核验"

DepositLookup = Callable[[asyncpg.Connection, UUID, Sequence[UUID]], Awaitable[dict[Any, str]]]

_lookup: DepositLookup | None = None


def register_deposit_lookup(fn: DepositLookup | None) -> None:
    global _lookup
    _lookup = fn


async def deposit_statuses(conn: asyncpg.Connection, lot_id: UUID, org_ids: Sequence[UUID]) -> dict[UUID, str]:
    found: dict[Any, str] = {}
    if _lookup is not None:
        found = await _lookup(conn, lot_id, list(org_ids))
    out: dict[UUID, str] = {}
    for org in org_ids:
        out[org] = found.get(org) or found.get(str(org)) or NOT_CHECKED
    return out
