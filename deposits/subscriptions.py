"""How the core's events reach deposits (imported by the composition root through trading.events), and the
deposit column of the opening record (registered with trading.opening.deposit_status)."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from deposits import refunds
from deposits.errors import DepositRetained, RetentionNotAllowed
from deposits.matching import match
from deposits.reconcile import load_inputs
from trading.clock import Clock
from trading.events import subscribe

STATE_TEXT = {
    "PAID": "已缴纳（银行转账）",
    "PARTIAL": "缴纳不足",
    "LATE": "逾期到账",
    "INVALID_PAYER": "非基本账户缴纳",
    "GUARANTEE_ACCEPTED": "已提交电子保函",
    "MISSING": "未缴纳",
}
COLLUSION_TEXT = "；不同投标人保证金从同一账户转出（招标投标法实施条例 第四十条）"


def _when(value: Any, clock: Clock) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return clock.now()


def _uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


async def _refund_lot(conn: asyncpg.Connection, clock: Clock, lot_id: UUID, reason: str, trigger_at: datetime,
                      skip_org: UUID | None = None, only_org: UUID | None = None, reveal: bool = True) -> None:
    rows = await conn.fetch("SELECT id, org_id FROM deposit_requirements WHERE lot_id = $1", lot_id)
    for r in rows:
        if (skip_org is not None and r["org_id"] == skip_org) or (only_org is not None and r["org_id"] != only_org):
            continue
        try:
            await refunds.create_for_requirement(conn, clock, r["id"], reason, trigger_at=trigger_at, reveal=reveal)
        except DepositRetained:
            continue  # a recorded retention decision stands (条例 第三十五条第二款)


async def on_bid_withdrawn(conn: asyncpg.Connection, clock: Clock, payload: dict[str, Any]) -> None:
    # 招标投标法实施条例 第三十五条: withdrawn before the deadline → refunded within 5 days of the notice.
    # Before the deadline the witness entry must not reveal the lot or the bidder (reveal=False).
    await _refund_lot(conn, clock, _uuid(payload["lot_id"]), "withdrawn", clock.now(),
                      only_org=_uuid(payload["bidder_org_id"]), reveal=False)


async def on_lot_failed(conn: asyncpg.Connection, clock: Clock, payload: dict[str, Any]) -> None:
    await _refund_lot(conn, clock, _uuid(payload["lot_id"]), "lot_failed", clock.now())


async def on_tender_cancelled(conn: asyncpg.Connection, clock: Clock, payload: dict[str, Any]) -> None:
    # 招标投标法实施条例 第三十一条 / 87号令 第二十九条: terminated → refunded with interest
    for lot_id in payload.get("lot_ids") or []:
        await _refund_lot(conn, clock, _uuid(lot_id), "tender_cancelled", clock.now())


async def on_lot_awarded(conn: asyncpg.Connection, clock: Clock, payload: dict[str, Any]) -> None:
    # 87号令 第三十八条: losers within 5 working days of the award notice; under the Bidding Law the platform
    # refunds losers on the same clock (stricter than 条例 第五十七条's "5 days after the contract").
    await _refund_lot(conn, clock, _uuid(payload["lot_id"]), "not_awarded",
                      _when(payload.get("notice_at"), clock), skip_org=_uuid(payload["winner_org_id"]))


async def on_contract_signed(conn: asyncpg.Connection, clock: Clock, payload: dict[str, Any]) -> None:
    # 招标投标法实施条例 第五十七条: at the latest 5 days after the contract, with bank interest
    await _refund_lot(conn, clock, _uuid(payload["lot_id"]), "awarded", _when(payload.get("signed_at"), clock),
                      only_org=_uuid(payload["winner_org_id"]))


# 招标投标法实施条例 第七十四条: a winner that refuses without good reason to conclude the contract, or does not provide
# the performance bond the documents require, loses the award and its deposit is not returned.
RETAINED_ON_RESCISSION = {("bidding_law", "gave_up"), ("bidding_law", "no_performance_bond")}


async def on_award_rescinded(conn: asyncpg.Connection, clock: Clock, payload: dict[str, Any]) -> None:
    """The earlier winner's deposit when it loses the award (evaluation/rescission.py): kept where 条例 第七十四条
    says so — the agency's recorded rescission is the decision, its reason the retention's — else returned."""
    lot_id, org_id = _uuid(payload["lot_id"]), _uuid(payload["org_id"])
    if (payload["regime"], payload["cause"]) not in RETAINED_ON_RESCISSION:
        await _refund_lot(conn, clock, lot_id, "award_rescinded", _when(payload.get("at"), clock), only_org=org_id)
        return
    for r in await conn.fetch("SELECT id FROM deposit_requirements WHERE lot_id = $1 AND org_id = $2", lot_id, org_id):
        try:
            await refunds.retain(conn, clock, r["id"], reason=f"中标资格取消（{payload['cause']}）：{payload['reason']}"[:2000],
                                 article="招标投标法实施条例 第七十四条", actor=_uuid(payload["actor"]))
        except RetentionNotAllowed:
            continue  # nothing held (an e-guarantee, or never paid): there is no money to keep


subscribe("bid.withdrawn", on_bid_withdrawn)
subscribe("award.rescinded", on_award_rescinded)
subscribe("lot.failed", on_lot_failed)
subscribe("tender.cancelled", on_tender_cancelled)
subscribe("lot.awarded", on_lot_awarded)
subscribe("contract.signed", on_contract_signed)


async def deposit_column(conn: asyncpg.Connection, lot_id: UUID, org_ids: Sequence[UUID]) -> dict[UUID, str]:
    """The deposit column of the opening record: the state frozen at the deadline (or, if the freeze has not
    run yet, the same state computed from the bank data as of the deadline — read-only)."""
    lot = await conn.fetchrow("SELECT deposit_fen FROM lots WHERE id = $1", lot_id)
    if lot is None:
        return {}
    if lot["deposit_fen"] == 0:
        return {org: "无需缴纳" for org in org_ids}
    rows = await conn.fetch(
        """SELECT r.id, r.org_id, s.state, s.flags FROM deposit_requirements r
             LEFT JOIN deposit_states s ON s.requirement_id = r.id WHERE r.lot_id = $1""", lot_id)
    live: dict[UUID, Any] = {}
    if any(r["state"] is None for r in rows):
        txns, _, reqs = await load_inputs(conn, [lot_id])
        _, live = match(txns, reqs)
    out: dict[UUID, str] = {}
    for r in rows:
        state, flags = (r["state"], r["flags"]) if r["state"] else (live[r["id"]].state, list(live[r["id"]].flags))
        out[r["org_id"]] = STATE_TEXT[state] + (COLLUSION_TEXT if "SAME_PAYER_ACCOUNT_FOR_DIFFERENT_BIDDERS" in flags
                                                else "")
    for org in org_ids:
        out.setdefault(org, STATE_TEXT["MISSING"])
    return out


try:  # the opening record's registry (trading/opening/deposit_status.py)
    from trading.opening.deposit_status import register_deposit_lookup
except ImportError:  # pragma: no cover - opening not installed
    pass
else:
    register_deposit_lookup(deposit_column)
