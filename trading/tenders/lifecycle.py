"""The lot state machine (DESIGN.md §5).

    draft → published → closed (by the clock, at the bid deadline) → opening → evaluation → publicity → awarded
    closed / opening / evaluation → failed (流标)           draft … publicity → cancelled (with a reason)
    publicity → evaluation (an objection to the result is upheld)
    evaluation → awarded (government procurement only: no candidate publicity, 87号令 第六十八、六十九条)
    awarded → failed (only when the winner lost the award and the tenderer tenders again: `retender=True`)

'closed' is derived from the clock when read (`effective_lot_status`): a lot whose stored status is 'published'
reads as 'closed' from the deadline instant on, so no missed timer can let a late bid in. Storing 'closed' is a
side effect (the deadline entry), never the gate.

Every transition is one call of `transition_lot` inside the caller's transaction: it locks the lot, checks the
move, updates the status and appends the witness entry, so the change and its record commit together.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from trading.clock import Clock
from trading.events import emit
from trading.records import Tag, append_entry
from trading.tenders import repository as repo
from trading.tenders.errors import ReasonRequired, TenderSuspended, TransitionIllegal
from trading.tenders.schemas import under_order

_CANCELLABLE_FROM = ("draft", "published", "closed", "opening", "evaluation", "publicity")

LOT_TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"published", "cancelled"}),
    "published": frozenset({"closed", "cancelled"}),
    "closed": frozenset({"opening", "failed", "cancelled"}),
    "opening": frozenset({"evaluation", "failed", "cancelled"}),
    "evaluation": frozenset({"publicity", "failed", "cancelled"}),
    "publicity": frozenset({"awarded", "evaluation", "cancelled"}),
    "awarded": frozenset(),
    "failed": frozenset(),
    "cancelled": frozenset(),
}
assert all(("cancelled" in LOT_TRANSITIONS[s]) == (s in _CANCELLABLE_FROM) for s in LOT_TRANSITIONS)

# Moves open to one regime only. 政府采购货物和服务招标投标管理办法 第六十八、六十九条: government procurement has no
# candidate publicity — the purchaser determines the winner from the report and the award is announced directly.
REGIME_TRANSITIONS: dict[str, dict[str, frozenset[str]]] = {
    "gov_procurement": {"evaluation": frozenset({"awarded"})},
}


def allowed_targets(frm: str, regime: str) -> frozenset[str]:
    return LOT_TRANSITIONS.get(frm, frozenset()) | REGIME_TRANSITIONS.get(regime, {}).get(frm, frozenset())


# 招标投标法实施条例 第二十二条: while an objection to the documents is unanswered the tender is suspended —
# neither the deadline nor the opening may take effect.
SUSPENDABLE_TARGETS = frozenset({"closed", "opening"})
# An order of the supervising authority to suspend (tenders.regulator_suspended) stops every move but cancellation.
OPEN_UNDER_ORDER = frozenset({"cancelled"})
# Moves that need a stated reason (kept in lots.status_reason and the log).
REASON_REQUIRED = frozenset({"failed", "cancelled"})
TERMINAL = frozenset({"awarded", "failed", "cancelled"})

_WHY_NOT = {
    "published": "a lot is published only by publishing its tender",
    "closed": "a lot closes only at or after its bid deadline",
    "awarded": "an awarded lot is final",
    "failed": "a failed lot (流标) is final; the tenderer re-tenders",
    "cancelled": "a cancelled lot is final",
}


def effective_lot_status(stored_status: str, bid_deadline: datetime, now: datetime) -> str:
    """The status as of `now`: 'published' reads as 'closed' once now >= bid_deadline."""
    if stored_status == "published" and now >= bid_deadline:
        return "closed"
    return stored_status


def _tag_for(to: str) -> Tag:
    return {
        "closed": Tag.TENDER_LOT_CLOSE,
        "failed": Tag.TENDER_LOT_FAIL,
        "cancelled": Tag.TENDER_LOT_CANCEL,
        "published": Tag.TENDER_LOT_PUBLISH,
    }.get(to, Tag.TENDER_LOT_TRANSITION)


def _illegal(frm: str, to: str, why: str | None = None) -> TransitionIllegal:
    if why is None:
        if to not in LOT_TRANSITIONS:
            why = f"unknown lot status {to!r}"
        elif frm in TERMINAL:
            why = _WHY_NOT[frm]
        else:
            allowed = ", ".join(sorted(LOT_TRANSITIONS[frm])) or "none"
            why = f"a lot in status {frm!r} cannot move to {to!r} (allowed: {allowed})"
    return TransitionIllegal(f"illegal transition {frm} → {to}: {why}", from_status=frm, to_status=to)


async def transition_lot(conn: asyncpg.Connection, clock: Clock, lot_id: UUID, to: str, *, actor: str | None,
                         reason: str | None = None, addr: str | None = None, _emit: bool = True,
                         retender: bool = False) -> None:
    """Move a lot to `to`; 409 illegal_transition / tender_suspended otherwise. Runs in the caller's transaction.

    `retender`: the one way out of 'awarded' — the winner lost the award and the tenderer tenders again
    (招标投标法实施条例 第五十五条; 政府采购法实施条例 第四十九条; 政府采购质疑和投诉办法 第十六条), so the lot fails.
    Only the rescission (evaluation/rescission.py) passes it, with its own record."""
    lot = await repo.lock_lot(conn, lot_id)
    now = clock.now()
    stored = lot.status
    frm = effective_lot_status(stored, lot.bid_deadline, now)
    if retender:
        if (frm, to) != ("awarded", "failed"):
            raise _illegal(frm, to, "only an awarded lot is tendered again, and it then fails")
    elif to == "closed":
        # Storing the close: legal once the clock has passed the deadline, from the stored 'published'.
        if stored != "published":
            raise _illegal(stored, to)
        if frm != "closed":
            raise _illegal(frm, to, f"{_WHY_NOT['closed']} ({lot.bid_deadline.isoformat()})")
        frm = "published"
    elif to not in LOT_TRANSITIONS or to not in allowed_targets(frm, lot.regime):
        raise _illegal(frm, to)
    if to == "published":
        raise _illegal(frm, to, _WHY_NOT["published"])
    if under_order(lot, now) and to not in OPEN_UNDER_ORDER:
        # 招标投标法实施条例 第六十二条 (政府采购法 第五十七条): the supervising authority ordered the activity
        # suspended; no lot moves until it lifts the order. Set apart from `suspended`, lifted only by the authority.
        raise TenderSuspended("the supervising authority has ordered the tender's activity suspended"
                              " (招标投标法实施条例 第六十二条); nothing moves until it lifts the order",
                              lot_id=str(lot_id), by="regulator")
    if to in SUSPENDABLE_TARGETS and lot.suspended:
        raise TenderSuspended(
            "the tender is suspended until the agency answers the objection to its documents"
            " (招标投标法实施条例 第二十二条)", lot_id=str(lot_id))
    if to in REASON_REQUIRED:
        reason = (reason or "").strip()
        if not reason:
            raise ReasonRequired(f"moving a lot to {to!r} needs a reason", field="reason")
    if stored == "published" and frm == "closed" and to not in ("closed", "cancelled"):
        # The deadline passed while nobody stored it: witness the close first, then the move.
        if lot.suspended:
            raise TenderSuspended("the tender is suspended; its deadline cannot take effect"
                                  " (招标投标法实施条例 第二十二条)", lot_id=str(lot_id))
        await _record(conn, clock, lot, "published", "closed", actor=actor, reason=None, addr=addr)
    await repo.update_lot_status(conn, lot_id, to, reason if to in REASON_REQUIRED else lot.status_reason)
    await _record(conn, clock, lot, frm, to, actor=actor, reason=reason, addr=addr)
    if _emit and to == "failed":
        await emit(conn, clock, "lot.failed", {"lot_id": lot.id, "tender_id": lot.tender_id, "reason": reason})
    if _emit and to == "cancelled":
        await emit(conn, clock, "tender.cancelled",
                   {"tender_id": lot.tender_id, "lot_ids": [lot.id], "reason": reason})


async def _record(conn, clock, lot, frm: str, to: str, *, actor, reason, addr) -> None:
    body: dict[str, Any] = {"lot": str(lot.id), "from": frm, "to": to}
    if to == "closed":
        body["bid_deadline"] = lot.bid_deadline.isoformat()
    if reason:
        body["reason"] = reason
    await append_entry(conn, clock, _tag_for(to), actor=actor, tender_id=lot.tender_id, lot_id=lot.id,
                       body=body, addr=addr)
