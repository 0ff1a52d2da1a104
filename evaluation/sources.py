"""Where evaluation takes its inputs from: the bids opened at the opening (trading.opening) and the confirmed
committee drawn from the expert pool (expert_pool). Three small functions behind one seam, so the rest of the
package depends on nothing but these shapes; `current` is what the services use.
"""
from __future__ import annotations

from typing import Any, Protocol
from uuid import UUID

import asyncpg
import msgspec

from trading.clock import Clock


class BidView(msgspec.Struct, kw_only=True):
    bid_id: UUID
    bidder_org_id: UUID
    bidder_name: str
    manifest_sha256: str
    price_fen: int
    duration_days: int | None = None
    form: dict[str, Any] = {}
    attachments: list[dict[str, Any]] = []


class CommitteeMember(msgspec.Struct, kw_only=True):
    expert_id: UUID
    user_id: UUID
    name: str


class Sources(Protocol):
    async def opened_bids(self, conn: asyncpg.Connection, lot_id: UUID) -> list[BidView]: ...

    async def committee(self, conn: asyncpg.Connection, lot_id: UUID) -> list[CommitteeMember]: ...

    async def replace_member(self, conn: asyncpg.Connection, clock: Clock, lot_id: UUID, expert_id: UUID, *,
                             reason: str, actor: str | None) -> CommitteeMember | None: ...


def _member(m: Any) -> CommitteeMember:
    get = (lambda k: m.get(k)) if isinstance(m, dict) else (lambda k: getattr(m, k, None))
    return CommitteeMember(expert_id=get("expert_id") or get("id"), user_id=get("user_id"),
                           name=get("name") or get("display_name") or "")


class PlatformSources:
    """The real inputs: `trading.opening.repository.list_opened_bids` and `expert_pool.services`."""

    async def opened_bids(self, conn: asyncpg.Connection, lot_id: UUID) -> list[BidView]:
        from trading.opening.repository import list_opened_bids

        return [BidView(bid_id=b.bid_id, bidder_org_id=b.bidder_org_id, bidder_name=b.bidder_name,
                        manifest_sha256=b.manifest_sha256, price_fen=b.price_fen, duration_days=b.duration_days,
                        form=b.form or {}, attachments=list(b.attachments or []))
                for b in await list_opened_bids(conn, lot_id) if b.status == "opened" and b.price_fen is not None]

    async def committee(self, conn: asyncpg.Connection, lot_id: UUID) -> list[CommitteeMember]:
        from expert_pool.services import committee_for_lot

        return [_member(m) for m in await committee_for_lot(conn, lot_id)]

    async def replace_member(self, conn: asyncpg.Connection, clock: Clock, lot_id: UUID, expert_id: UUID, *,
                             reason: str, actor: str | None) -> CommitteeMember | None:
        """The next alternate, invited (it joins the evaluation once it confirms), or None: pool exhausted."""
        from expert_pool.services import replace_member

        alternate = await replace_member(conn, clock, lot_id, expert_id, reason=reason, actor=actor)
        return _member(alternate) if alternate is not None else None


current: Sources = PlatformSources()
