"""Refunds: principal plus interest back to the original payer account, on the legal time limits.

Triggers (deposits/subscriptions.py): withdrawal before the deadline → 5 days of the notice (招标投标法实施条例
第三十五条); failed lot or terminated tender → with interest (条例 第三十一条; GP 87号令 第二十九条: 5 working
days); award → losers and, after the contract, the winner, with bank interest (条例 第五十七条: at the latest 5
days after the contract; GP 87号令 第三十八条: losers 5 working days after the award notice, the winner 5 working
days after the contract, late refunds + a charge at the PBoC loan base rate + 20 %). Calendar days under the
Bidding Law (the stricter reading, RULES 6.4), working days under GP (trading.dates).

Interest: from the credit's value date to the export date, over a dated rate table (deposit_interest_rates:
demand-deposit rate, ACT/360 by default); the basis is stored with each refund. Each refund is exported once in a
pain.001 file whose InstrId is its business reference; the bank debit on a later statement closes it.
"""
from __future__ import annotations

import secrets
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from uuid import UUID

import asyncpg

from deposits import pain001
from deposits import repository as repo
from deposits.errors import DepositRetained, RateInvalid, RefundNotPossible, RetentionNotAllowed
from deposits.schemas import Bank
from trading.clock import SHANGHAI, Clock
from trading.dates import local_date, period_end
from trading.records import Tag, append_entry

MANUAL_REASONS = frozenset({"unknown_account", "late", "duplicate", "overpaid", "invalid_payer"})
LATE_CHARGE_MARKUP = Decimal("1.2")   # 87号令 第三十八条: 同期贷款基准利率上浮20%
_B32 = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def business_ref() -> str:
    return "THR" + "".join(secrets.choice(_B32) for _ in range(16))


def interest(principal_fen: int, start: date, end: date, rates: list[dict[str, Any]],
             markup: Decimal = Decimal(1)) -> tuple[int, list[dict[str, Any]]]:
    """Simple interest on `principal_fen` for the days in (start, end], split at each rate change.
    rates: [{effective_from, annual_rate (Decimal), day_count}] sorted by date. Rounded half-up to the fen once."""
    if end <= start or principal_fen <= 0:
        return 0, []
    rates = sorted(rates, key=lambda r: r["effective_from"])
    exact = Decimal(0)
    basis = []
    day = start
    while day < end:
        current = [r for r in rates if r["effective_from"] <= day + timedelta(days=1)]
        if not current:
            nxt = rates[0]["effective_from"] - timedelta(days=1) if rates else end
            if nxt <= day:
                break
            basis.append({"from": day.isoformat(), "to": min(nxt, end).isoformat(), "days": (min(nxt, end) - day).days,
                          "rate": None, "note": "no rate in force"})
            day = min(nxt, end)
            continue
        rate = current[-1]
        later = [r["effective_from"] for r in rates if r["effective_from"] > day + timedelta(days=1)]
        stop = min([end] + [d - timedelta(days=1) for d in later])
        days = (stop - day).days
        part = Decimal(principal_fen) * Decimal(rate["annual_rate"]) * markup * days / rate["day_count"]
        exact += part
        basis.append({"from": day.isoformat(), "to": stop.isoformat(), "days": days,
                      "annual_rate": str(rate["annual_rate"]), "markup": str(markup),
                      "day_count": rate["day_count"], "interest_fen_exact": str(part.quantize(Decimal("0.0001")))})
        day = stop
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP)), basis


async def _rates(conn: asyncpg.Connection, kind: str) -> list[dict[str, Any]]:
    return [dict(r) for r in await conn.fetch(
        "SELECT effective_from, annual_rate, day_count FROM deposit_interest_rates WHERE kind = $1 "
        "ORDER BY effective_from", kind)]


RATE_KINDS = ("demand_deposit", "loan_base")
DAY_COUNTS = (360, 365)


def parse_rate(text: str) -> Decimal:
    """An annual rate as an exact decimal fraction ("0.0035" = 0.35 %): finite, 0 ≤ rate < 1, at most six decimals
    (the column's scale: more would be rounded silently). A rate that is malformed, NaN or given in percent is
    refused here; stored, it would break the interest of every refund computed with it."""
    try:
        rate = Decimal(text.strip())
    except InvalidOperation:
        raise RateInvalid(f"annual_rate: {text!r} is not a decimal number", field="annual_rate") from None
    if not rate.is_finite() or not 0 <= rate < 1 or rate.as_tuple().exponent < -6:
        raise RateInvalid(f"annual_rate: {text!r} must be a fraction 0 ≤ rate < 1 with at most six decimals"
                          " (0.0035 for 0.35 %)", field="annual_rate")
    return rate


async def add_rate(conn: asyncpg.Connection, clock: Clock, kind: str, effective_from: date, annual_rate: str,
                   source: str, day_count: int = 360, *, actor: UUID | None = None, addr: str | None = None) -> bool:
    """Record a dated rate (the table's rows are never changed: a rate already recorded for that kind and day stays,
    and False is returned). A rate changes the interest of every refund exported after it, so it is witnessed."""
    if kind not in RATE_KINDS:
        raise RateInvalid(f"kind: {' | '.join(RATE_KINDS)}", field="kind")
    if day_count not in DAY_COUNTS:
        raise RateInvalid("day_count: 360 | 365", field="day_count")
    rate = parse_rate(annual_rate)
    added = await conn.fetchval(
        """INSERT INTO deposit_interest_rates (kind, effective_from, annual_rate, day_count, source)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT (kind, effective_from) DO NOTHING RETURNING true""",
        kind, effective_from, rate, day_count, source)
    if added:
        await append_entry(conn, clock, Tag.DEPOSIT_RATE_ADD, actor=str(actor) if actor else None, addr=addr,
                           body={"kind": kind, "effective_from": effective_from.isoformat(),
                                 "annual_rate": format(rate, "f"), "day_count": day_count, "source": source})
    return bool(added)


def due_at(trigger: datetime, regime: str) -> datetime:
    unit = "working" if regime == "gov_procurement" else "calendar"
    return datetime.combine(period_end(trigger, 5, unit), time(23, 59, 59), tzinfo=SHANGHAI)


async def create_for_requirement(conn: asyncpg.Connection, clock: Clock, requirement_id: UUID, reason: str, *,
                                 trigger_at: datetime, actor: str | None = None, reveal: bool = True) -> list[UUID]:
    """One refund per booked credit held for the requirement (each to its own payer account)."""
    if await conn.fetchval("SELECT 1 FROM deposit_retentions WHERE requirement_id = $1", requirement_id):
        raise DepositRetained("this deposit was retained by a recorded decision; it is not refunded")
    req = await conn.fetchrow(
        """SELECT r.id, r.lot_id, t.regime, t.id AS tender_id FROM deposit_requirements r
             JOIN lots l ON l.id = r.lot_id JOIN tenders t ON t.id = l.tender_id WHERE r.id = $1""", requirement_id)
    credits = await conn.fetch(
        """SELECT t.id FROM bank_txns t JOIN deposit_matches m ON m.txn_id = t.id
            WHERE m.requirement_id = $1 AND t.direction = 'CRDT' AND t.status = 'BOOK' AND NOT t.reversal
              AND NOT EXISTS (SELECT 1 FROM bank_txns x WHERE x.reverses_id = t.id)
              AND NOT EXISTS (SELECT 1 FROM deposit_refunds f WHERE f.txn_id = t.id) ORDER BY t.id""", requirement_id)
    out = []
    for c in credits:
        out.append(await _create(conn, clock, c["id"], reason, requirement_id=requirement_id, regime=req["regime"],
                                 trigger_at=trigger_at, actor=actor,
                                 lot_id=req["lot_id"] if reveal else None, tender_id=req["tender_id"] if reveal else None))
    return out


async def refund_credit(conn: asyncpg.Connection, clock: Clock, txn_id: int, reason: str, *, actor: str) -> UUID:
    """Finance returns one credit (unknown account, late, duplicate, overpaid…) to the account it came from."""
    if reason not in MANUAL_REASONS:
        raise RefundNotPossible(f"reason must be one of {sorted(MANUAL_REASONS)}")
    m = await conn.fetchrow(
        """SELECT m.requirement_id, t.regime FROM deposit_matches m
             LEFT JOIN deposit_requirements r ON r.id = m.requirement_id LEFT JOIN lots l ON l.id = r.lot_id
             LEFT JOIN tenders t ON t.id = l.tender_id WHERE m.txn_id = $1""", txn_id)
    if m is None:
        raise RefundNotPossible("this transaction is not a matched credit")
    if m["requirement_id"] and await conn.fetchval(
            "SELECT 1 FROM deposit_retentions WHERE requirement_id = $1", m["requirement_id"]):
        raise DepositRetained("this deposit was retained by a recorded decision")
    return await _create(conn, clock, txn_id, reason, requirement_id=m["requirement_id"],
                         regime=m["regime"] or "bidding_law", trigger_at=clock.now(), actor=actor)


async def _create(conn: asyncpg.Connection, clock: Clock, txn_id: int, reason: str, *, requirement_id: UUID | None,
                  regime: str, trigger_at: datetime, actor: str | None, lot_id: UUID | None = None,
                  tender_id: UUID | None = None) -> UUID:
    t = await conn.fetchrow("SELECT * FROM bank_txns WHERE id = $1", txn_id)
    if t is None or t["direction"] != "CRDT" or t["status"] != "BOOK" or t["reversal"]:
        raise RefundNotPossible("only a booked credit can be refunded")
    if await conn.fetchval("SELECT 1 FROM bank_txns WHERE reverses_id = $1", txn_id):
        raise RefundNotPossible("the bank reversed this credit: nothing to refund")
    if not t["payer_account"] or not t["payer_name"]:
        raise RefundNotPossible("the credit names no payer account: refund by hand after identifying the payer")
    ref = business_ref()
    rid = await conn.fetchval(
        """INSERT INTO deposit_refunds (business_ref, requirement_id, txn_id, bank_id, reason, triggered_at, due_at,
                principal_fen, payee_name, payee_account, payee_bank, regime, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
           ON CONFLICT (txn_id) DO NOTHING RETURNING id""",
        ref, requirement_id, txn_id, t["bank_id"], reason, trigger_at, due_at(trigger_at, regime), t["amount_fen"],
        t["payer_name"], t["payer_account"], t["payer_bank"], regime, clock.now())
    if rid is None:
        raise RefundNotPossible("this credit already has a refund")
    await append_entry(conn, clock, Tag.DEPOSIT_REFUND_CREATE, actor=actor, lot_id=lot_id, tender_id=tender_id,
                       body={"refund": str(rid), "business_ref": ref, "reason": reason, "txn": txn_id})
    return rid


async def export(conn: asyncpg.Connection, clock: Clock, bank: Bank, *, actor: UUID | None,
                 addr: str | None = None) -> tuple[UUID, bytes] | None:
    """Export every pending refund of the bank once, as one pain.001 file; post the ledger; None if nothing."""
    rows = await conn.fetch(
        """SELECT f.*, t.value_date, t.counted_at, t.currency, l.name AS lot_name, tn.code AS tender_code
             FROM deposit_refunds f JOIN bank_txns t ON t.id = f.txn_id
             LEFT JOIN deposit_requirements r ON r.id = f.requirement_id LEFT JOIN lots l ON l.id = r.lot_id
             LEFT JOIN tenders tn ON tn.id = l.tender_id
            WHERE f.bank_id = $1 AND f.status = 'pending' ORDER BY f.created_at, f.id FOR UPDATE OF f""", bank.id)
    if not rows:
        return None
    now = clock.now()
    today = local_date(now)
    deposit_rates = await _rates(conn, "demand_deposit")
    loan_rates = await _rates(conn, "loan_base")
    export_id = await conn.fetchval("SELECT gen_random_uuid()")
    msg_id = "THX" + "".join(secrets.choice(_B32) for _ in range(16))
    items = []
    for r in rows:
        start = r["value_date"] or local_date(r["counted_at"] or r["created_at"])
        fen, basis = interest(r["principal_fen"], start, today, deposit_rates)
        late_fen, late_basis = 0, []
        if r["regime"] == "gov_procurement" and r["due_at"] is not None and now > r["due_at"]:
            # 87号令 第三十八条: overdue → 超期资金占用费 at the loan base rate + 20 %
            late_fen, late_basis = interest(r["principal_fen"], local_date(r["due_at"]), today, loan_rates,
                                            LATE_CHARGE_MARKUP)
        info = {"interest": basis, "late_charge": late_basis, "from": start.isoformat(), "to": today.isoformat(),
                "rate_kind": "demand_deposit"}
        await conn.execute(
            """UPDATE deposit_refunds SET interest_fen = $2, late_charge_fen = $3, interest_basis = $4,
                      status = 'exported', export_id = $5 WHERE id = $1""", r["id"], fen, late_fen, info, export_id)
        total = r["principal_fen"] + fen + late_fen
        liability = f"deposit:{r['requirement_id']}" if r["requirement_id"] else repo.suspense_account(bank.code,
                                                                                                     r["currency"])
        await repo.insert_journal(conn, f"refund:{r['id']}", "refund", today, f"refund {r['business_ref']}", now, [
            (liability, r["currency"], r["principal_fen"], r["txn_id"]),
            (f"interest:{r['currency']}", r["currency"], fen + late_fen, None),
            (f"clearing:{bank.code}:{r['currency']}", r["currency"], -total, None)])
        items.append({"business_ref": r["business_ref"], "total_fen": total, "currency": r["currency"],
                      "payee_name": r["payee_name"], "payee_account": r["payee_account"],
                      "payee_bank": r["payee_bank"],
                      "remittance": f"退还投标保证金 {r['tender_code'] or ''} {r['lot_name'] or ''} {r['business_ref']}"})
    document = pain001.build(msg_id=msg_id, created_at=now, execution_date=today, initiator=bank.main_account_name,
                             bank=bank, refunds=items)
    import hashlib

    sha = hashlib.sha256(document).hexdigest()
    await conn.execute(
        """INSERT INTO deposit_refund_exports (id, bank_id, msg_id, sha256, refunds, total_fen, document, created_at,
                created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
        export_id, bank.id, msg_id, sha, len(items), sum(i["total_fen"] for i in items), document, now, actor)
    await append_entry(conn, clock, Tag.DEPOSIT_REFUND_EXPORT, actor=str(actor) if actor else None, addr=addr,
                       body={"export": str(export_id), "msg_id": msg_id, "sha256": sha, "bank": bank.code,
                             "refunds": [i["business_ref"] for i in items]})
    return export_id, document


async def settle_from_import(conn: asyncpg.Connection, clock: Clock, bank: Bank, file_id: UUID,
                             promoted: list[int]) -> int:
    """A bank debit carrying an exported refund's reference closes it (clearing → bank). Only this file's
    transactions (those it inserted, those it promoted) are looked at."""
    rows = await conn.fetch(
        """SELECT f.id, f.business_ref, f.principal_fen + f.interest_fen + f.late_charge_fen AS total, t.id AS txn_id,
                  t.amount_fen, t.currency, t.booking_date
             FROM deposit_refunds f JOIN bank_txns t ON t.bank_id = f.bank_id
            WHERE f.bank_id = $1 AND (t.file_id = $2 OR t.id = ANY($3::bigint[]))
              AND f.status = 'exported' AND t.direction = 'DBIT' AND NOT t.reversal
              AND t.status = 'BOOK' AND (t.end_to_end_id = f.business_ref OR t.instr_id = f.business_ref)""",
        bank.id, file_id, promoted)
    settled = 0
    now = clock.now()
    for r in rows:
        if r["amount_fen"] != r["total"]:
            await repo.raise_issue(conn, "refund_amount_mismatch", r["business_ref"],
                                   {"expected_fen": r["total"], "debited_fen": r["amount_fen"], "txn": r["txn_id"]}, now)
            continue
        await conn.execute("UPDATE deposit_refunds SET status = 'settled', settled_txn_id = $2 WHERE id = $1",
                           r["id"], r["txn_id"])
        await repo.insert_journal(conn, f"settle:{r['id']}", "settle", r["booking_date"],
                                  f"refund {r['business_ref']} debited", now, [
                                      (f"clearing:{bank.code}:{r['currency']}", r["currency"], r["total"], None),
                                      (repo.suspense_account(bank.code, r["currency"]), r["currency"], -r["total"],
                                       r["txn_id"])])
        await append_entry(conn, clock, Tag.DEPOSIT_REFUND_SETTLE, body={"refund": str(r["id"]),
                                                                         "business_ref": r["business_ref"],
                                                                         "txn": r["txn_id"]})
        settled += 1
    return settled


async def retain(conn: asyncpg.Connection, clock: Clock, requirement_id: UUID, *, reason: str, article: str,
                 actor: UUID, addr: str | None = None) -> dict[str, Any]:
    """Retention (e.g. a bid revoked after the deadline, 招标投标法实施条例 第三十五条第二款) needs this recorded
    decision; money moves from the bidder's liability to `retained:{lot}`."""
    req = await repo.get_requirement(conn, requirement_id)
    lot = await repo.get_lot(conn, req["lot_id"])
    if clock.now() < lot["bid_deadline"]:
        raise RetentionNotAllowed("a deposit can be retained only after the bid deadline")
    if len(reason.strip()) < 2:
        raise RetentionNotAllowed("give the reason for the retention")
    if await conn.fetchval("SELECT 1 FROM deposit_refunds WHERE requirement_id = $1 AND status <> 'pending'",
                           requirement_id):
        raise RetentionNotAllowed("a refund of this deposit was already sent to the bank")
    balances = await conn.fetch(
        "SELECT currency, sum(credit_fen - debit_fen)::bigint AS held FROM ledger_postings WHERE account = $1 "
        "GROUP BY currency", f"deposit:{requirement_id}")
    held = {b["currency"]: b["held"] for b in balances if b["held"] > 0}
    if not held:
        raise RetentionNotAllowed("no money is held for this deposit")
    await conn.execute(
        """INSERT INTO deposit_retentions (requirement_id, amount_fen, reason, article, actor, decided_at)
           VALUES ($1, $2, $3, $4, $5, $6)""", requirement_id, sum(held.values()), reason.strip(), article, actor,
        clock.now())
    await conn.execute("UPDATE deposit_refunds SET status = 'cancelled' WHERE requirement_id = $1 AND status = 'pending'",
                       requirement_id)
    lines = []
    for ccy, amount in held.items():
        lines += [(f"deposit:{requirement_id}", ccy, amount, None), (f"retained:{req['lot_id']}", ccy, -amount, None)]
    await repo.insert_journal(conn, f"retain:{requirement_id}", "retain", local_date(clock.now()), reason[:200],
                              clock.now(), lines)
    await append_entry(conn, clock, Tag.DEPOSIT_RETENTION_DECIDE, actor=str(actor), addr=addr, lot_id=req["lot_id"],
                       tender_id=lot["tender_id"], body={"requirement": str(requirement_id), "article": article,
                                                         "amount_fen": sum(held.values())})
    return {"requirement": str(requirement_id), "retained_fen": sum(held.values())}
