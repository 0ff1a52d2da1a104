"""Read models for the API, the pages and the reports, with the confidentiality rule applied in one place.

Before a lot's bid deadline, who has paid is as secret as who has bid (招标投标法 第二十二条; DESIGN §9): only
regulators and each bidder for its own deposit see it. The agency sees counts; finance (admin) sees bank
entries but not which lot and bidder a pre-deadline credit belongs to, nor its payer.
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from deposits import repository as repo
from deposits.errors import DepositConfidential, RequirementNotFound
from deposits.schemas import LotDeposits, MyDeposit, VirtualAccount
from deposits.services import guarantee_view
from trading.accounts.schemas import Role, User
from trading.clock import Clock
from trading.money import fen_to_yuan

MASK = "（截止前保密）"


def _txn_view(t: asyncpg.Record) -> dict[str, Any]:
    return {"txn_id": t["id"], "amount": fen_to_yuan(t["amount_fen"]), "currency": t["currency"],
            "status": t["status"], "counted_at": t["counted_at"].isoformat() if t["counted_at"] else None,
            "payer_name": t["payer_name"], "payer_account": t["payer_account"],
            "counts": t["counts"], "flags": list(t["flags"] or [])}


async def my_deposit(conn: asyncpg.Connection, clock: Clock, lot_id: UUID, user: User) -> MyDeposit:
    if user.org_id is None:
        raise DepositConfidential("only a bidder sees its own deposit")
    lot = await repo.get_lot(conn, lot_id)
    req = await repo.find_requirement(conn, lot_id, user.org_id)
    if req is None:
        raise RequirementNotFound("ask for a deposit account for this lot first")
    accounts = [VirtualAccount(number=v["number"], bank_code=v["bank_code"], bank_name=v["bank_name"],
                               cnaps_code=v["cnaps_code"], account_name=v["main_account_name"], lot_id=lot_id,
                               amount=fen_to_yuan(req["amount_fen"]), deadline=lot["bid_deadline"])
                for v in await repo.list_virtual_accounts(conn, req["id"])]
    credits = await conn.fetch(
        """SELECT t.*, m.counts, m.flags FROM deposit_matches m JOIN bank_txns t ON t.id = m.txn_id
            WHERE m.requirement_id = $1 ORDER BY t.counted_at NULLS LAST, t.id""", req["id"])
    state = await conn.fetchrow("SELECT state, paid_fen FROM deposit_states WHERE requirement_id = $1", req["id"])
    paid = sum(c["amount_fen"] for c in credits if c["counts"])
    guarantees = [guarantee_view(g, lot_id) for g in await repo.list_guarantees(conn, req["id"])]
    if state:
        status = state["state"]
    elif guarantees:
        status = "GUARANTEE_REGISTERED"
    else:
        status = "PAID" if paid >= req["amount_fen"] else ("PARTIAL" if paid else "AWAITING")
    refunds = [{"business_ref": r["business_ref"], "reason": r["reason"], "status": r["status"],
                "principal": fen_to_yuan(r["principal_fen"]), "interest": fen_to_yuan(r["interest_fen"]),
                "late_charge": fen_to_yuan(r["late_charge_fen"]), "due_at": r["due_at"].isoformat()
                if r["due_at"] else None, "payee_account": r["payee_account"]}
               for r in await conn.fetch("SELECT * FROM deposit_refunds WHERE requirement_id = $1 ORDER BY created_at",
                                         req["id"])]
    return MyDeposit(lot_id=lot_id, required=fen_to_yuan(req["amount_fen"]), deadline=lot["bid_deadline"],
                     accounts=accounts, paid=fen_to_yuan(state["paid_fen"] if state else paid), status=status,
                     frozen=state is not None, credits=[_txn_view(c) for c in credits], guarantees=guarantees,
                     refunds=refunds)


async def lot_deposits(conn: asyncpg.Connection, clock: Clock, lot_id: UUID, user: User) -> LotDeposits:
    lot = await repo.get_lot(conn, lot_id)
    passed = clock.now() >= lot["bid_deadline"]
    regulator = user.has(Role.REGULATOR)
    if user.has(Role.AGENCY) and not regulator and not user.has(Role.ADMIN) and user.org_id not in (
            lot["agency_org_id"], lot["tenderer_org_id"]):
        raise DepositConfidential("this lot belongs to another agency")
    rows = await repo.list_requirements_for_lot(conn, lot_id)
    paid_by_req = {r["requirement_id"]: r["paid"] for r in await conn.fetch(
        """SELECT m.requirement_id, sum(t.amount_fen) FILTER (WHERE m.counts)::bigint AS paid FROM deposit_matches m
             JOIN bank_txns t ON t.id = m.txn_id JOIN deposit_requirements r ON r.id = m.requirement_id
            WHERE r.lot_id = $1 GROUP BY 1""", lot_id)}
    counts = Counter()
    for r in rows:
        counts["accounts_issued"] += 1
        paid = paid_by_req.get(r["id"]) or 0
        if paid >= r["amount_fen"]:
            counts["paid_in_full"] += 1
    out = LotDeposits(lot_id=lot_id, deadline=lot["bid_deadline"], deadline_passed=passed, counts=dict(counts))
    if passed or regulator:
        flags = {}
        for f in await conn.fetch(
                """SELECT requirement_id, array_agg(flag ORDER BY flag) AS flags FROM deposit_requirement_flags
                    WHERE requirement_id IN (SELECT id FROM deposit_requirements WHERE lot_id = $1) GROUP BY 1""",
                lot_id):
            flags[f["requirement_id"]] = list(f["flags"])
        out.bidders = [{"requirement_id": str(r["id"]), "org_id": str(r["org_id"]), "org_name": r["org_name"],
                        "required": fen_to_yuan(r["amount_fen"]), "paid": fen_to_yuan(paid_by_req.get(r["id"]) or 0),
                        "state": r["state"], "frozen_at": r["frozen_at"].isoformat() if r["frozen_at"] else None,
                        "flags": flags.get(r["id"], [])} for r in rows]
    return out


async def finance_overview(conn: asyncpg.Connection, clock: Clock, user: User, *, limit: int = 200) -> dict[str, Any]:
    """Open flags, conflicts, reconciliation issues, refunds, imports — masked before each lot's deadline."""
    now = clock.now()
    regulator = user.has(Role.REGULATOR)
    flagged = await conn.fetch(
        """SELECT t.id, t.amount_fen, t.currency, t.status, t.counted_at, t.payer_name, t.payer_account,
                  t.account, b.code AS bank_code, m.flags, m.counts, m.requirement_id, tn.bid_deadline, tn.code AS tender_code,
                  l.name AS lot_name, l.id AS lot_id, o.name AS org_name,
                  array(SELECT d.flag || ':' || d.decision FROM deposit_flag_decisions d WHERE d.txn_id = t.id)
                      AS decisions
             FROM deposit_matches m JOIN bank_txns t ON t.id = m.txn_id JOIN deposit_banks b ON b.id = t.bank_id
             LEFT JOIN deposit_requirements r ON r.id = m.requirement_id LEFT JOIN lots l ON l.id = r.lot_id
             LEFT JOIN tenders tn ON tn.id = l.tender_id LEFT JOIN organisations o ON o.id = r.org_id
            WHERE cardinality(m.flags) > 0 ORDER BY t.id DESC LIMIT $1""", limit)
    flags = []
    for f in flagged:
        sealed = f["bid_deadline"] is not None and now < f["bid_deadline"] and not regulator
        decided = {d.split(":")[0] for d in f["decisions"]}
        flags.append({
            "txn_id": f["id"], "bank": f["bank_code"], "amount": fen_to_yuan(f["amount_fen"]), "currency": f["currency"],
            "counted_at": f["counted_at"], "account": MASK if sealed else f["account"],
            "payer_name": MASK if sealed else f["payer_name"], "payer_account": MASK if sealed else f["payer_account"],
            "lot": MASK if sealed else (f"{f['tender_code']} {f['lot_name']}" if f["lot_name"] else None),
            "bidder": MASK if sealed else f["org_name"],
            "flags": list(f["flags"]), "open": [x for x in f["flags"] if x not in decided], "sealed": sealed})
    refunds = await conn.fetch(
        """SELECT f.business_ref, f.reason, f.status, f.principal_fen, f.interest_fen, f.late_charge_fen, f.due_at,
                  b.code AS bank_code FROM deposit_refunds f JOIN deposit_banks b ON b.id = f.bank_id
            WHERE f.status IN ('pending', 'exported') ORDER BY f.due_at NULLS LAST LIMIT $1""", limit)
    return {
        "flags": flags,
        "issues": [dict(i) for i in await repo.list_open_issues(conn)],
        "conflicts": [dict(c) for c in await repo.list_open_conflicts(conn)],
        "refunds": [dict(r, overdue=r["due_at"] is not None and r["due_at"] < now) for r in refunds],
        "imports": [dict(f) for f in await repo.list_import_files(conn, 20)],
        "banks": [b for b in await repo.list_banks(conn)],
    }


async def reconciliation_rows(conn: asyncpg.Connection, clock: Clock, user: User) -> list[list[str]]:
    """One row per bank credit with its match, for the CSV/PDF report (masked before each lot's deadline)."""
    now = clock.now()
    regulator = user.has(Role.REGULATOR)
    rows = await conn.fetch(
        """SELECT t.id, b.code, t.booking_date, t.counted_at, t.direction, t.amount_fen, t.currency, t.status,
                  t.payer_name, t.payer_account, t.account, m.counts, m.flags, tn.code AS tender_code, l.name AS lot_name,
                  tn.bid_deadline, o.name AS org_name, f.business_ref, f.status AS refund_status
             FROM bank_txns t JOIN deposit_banks b ON b.id = t.bank_id
             LEFT JOIN deposit_matches m ON m.txn_id = t.id
             LEFT JOIN deposit_requirements r ON r.id = m.requirement_id LEFT JOIN lots l ON l.id = r.lot_id
             LEFT JOIN tenders tn ON tn.id = l.tender_id LEFT JOIN organisations o ON o.id = r.org_id
             LEFT JOIN deposit_refunds f ON f.txn_id = t.id
            ORDER BY t.id""")
    out = []
    for r in rows:
        sealed = r["bid_deadline"] is not None and now < r["bid_deadline"] and not regulator
        out.append([str(r["id"]), r["code"], str(r["booking_date"] or ""), r["counted_at"].isoformat()
                    if r["counted_at"] else "", r["direction"], fen_to_yuan(r["amount_fen"]), r["currency"], r["status"],
                    MASK if sealed else (r["payer_name"] or ""), MASK if sealed else (r["payer_account"] or ""),
                    MASK if sealed else r["account"],
                    MASK if sealed else (f"{r['tender_code']} {r['lot_name']}" if r["lot_name"] else ""),
                    MASK if sealed else (r["org_name"] or ""),
                    "" if r["counts"] is None else ("是" if r["counts"] else "否"), " ".join(r["flags"] or []),
                    r["business_ref"] or "", r["refund_status"] or ""])
    return out


REPORT_HEADER = ["txn", "bank", "booking_date", "counted_at", "direction", "amount", "currency", "status",
                 "payer_name", "payer_account", "account", "lot", "bidder", "counts", "flags", "refund_ref",
                 "refund_status"]


def when(value: datetime | None) -> str:
    from trading.clock import show

    return show(value)
