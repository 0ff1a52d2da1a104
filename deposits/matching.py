"""Matching: a pure function of (transactions, requirements, rule version).

Re-running it on the same inputs gives the same answer, so the service stores only the difference from the
previous run (never duplicates). Each credit ends with exactly one requirement or none (suspense), a
`counts` verdict and its flags; each requirement gets its flags and the state it would freeze in.

Rules (docs/deposits.md has the table):
- a credit to a virtual sub-account belongs to that account's (lot, bidder); any other credit is
  UNKNOWN_ACCOUNT and stays in suspense — never dropped;
- it counts when booked (not PDNG/INFO), in CNY, not reversed, and its agreed bank time is at or before the
  bid deadline (to the second) — else LATE;
- NAME_MISMATCH: the payer name differs from the bidder's registered name after NFKC (full/half width),
  whitespace removal and case folding; a close name is only offered as a suggestion, never matched;
- NOT_BASIC_ACCOUNT: 依法必须招标 projects under the Bidding Law take cash deposits only from the bidder's
  basic account valid on the value date (招标投标法实施条例 第二十六条);
- DUPLICATE_PAYMENT (a credit after the deposit was already covered), OVERPAID, UNDERPAID;
- SAME_PAYER_ACCOUNT_FOR_DIFFERENT_BIDDERS: one payer account paid for two bidders of a lot — deemed
  collusion (招标投标法实施条例 第四十条), shown to the committee and the regulator.
"""
from __future__ import annotations

import difflib
import unicodedata
from collections import defaultdict
from collections.abc import Collection, Mapping
from datetime import date, datetime
from functools import lru_cache
from typing import Any
from uuid import UUID

import msgspec

from trading.clock import SHANGHAI

RULE_VERSION = "deposits-match/1"


class TxnIn(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    account: str
    direction: str
    amount_fen: int
    currency: str
    status: str
    reversal: bool
    reverses_id: int | None
    counted_at: datetime | None
    counted_precision: str
    value_date: date | None
    payer_name: str | None
    payer_account: str | None
    notes: tuple[str, ...] = ()


class BasicAccountIn(msgspec.Struct, frozen=True):
    number: str
    valid_from: date
    valid_until: date | None


class RequirementIn(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    lot_id: UUID
    org_id: UUID
    org_name: str
    amount_fen: int
    deadline: datetime
    basic_account_rule: bool                  # 依法必须招标 under the Bidding Law
    basic_accounts: tuple[BasicAccountIn, ...]
    virtual_accounts: tuple[str, ...]
    guarantee_ok: bool
    waived: frozenset[tuple[Any, str]] = frozenset()   # (txn id or requirement id, flag)


class TxnResult(msgspec.Struct, frozen=True, kw_only=True):
    txn_id: int
    requirement_id: UUID | None
    counts: bool
    flags: tuple[str, ...]
    detail: dict[str, Any]

    def key(self) -> tuple:
        return (self.requirement_id, self.counts, self.flags, msgspec.json.encode(self.detail, order="sorted"))


class RequirementResult(msgspec.Struct, frozen=True, kw_only=True):
    requirement_id: UUID
    state: str
    paid_fen: int
    flags: dict[str, dict[str, Any]]


# Both are pure and called several times per credit with the same few strings (a bidder's name, its
# accounts): cached, bounded.
@lru_cache(maxsize=8192)
def normalise_name(text: str | None) -> str:
    """NFKC folds full-width letters, digits and brackets (（）→ ()) to half-width; spaces (incl. U+3000) go."""
    return "".join(unicodedata.normalize("NFKC", text or "").split()).casefold()


@lru_cache(maxsize=8192)
def normalise_account(text: str | None) -> str:
    return "".join((text or "").split()).upper().replace("-", "")


def _basic_ok(req: RequirementIn, t: TxnIn) -> bool:
    number = normalise_account(t.payer_account)
    if not number:
        return False
    day = t.value_date or (t.counted_at.astimezone(SHANGHAI).date() if t.counted_at else None)
    for acct in req.basic_accounts:
        if normalise_account(acct.number) == number and (day is None or (
                acct.valid_from <= day and (acct.valid_until is None or day <= acct.valid_until))):
            return True
    return False


def match(txns: list[TxnIn], requirements: list[RequirementIn], rule_version: str = RULE_VERSION, *,
          colluding: Mapping[tuple[UUID, str], Collection[UUID]] | None = None
          ) -> tuple[dict[int, TxnResult], dict[UUID, RequirementResult]]:
    """`colluding`: (lot, normalised payer account) → the bidders it paid for, where more than one — the
    collusion rule's lot-wide view, passed in when `requirements` are only part of their lot (a large lot is
    matched in pages, see deposits/reconcile.py); computed from `txns` when they hold every credit of the lots."""
    if rule_version != RULE_VERSION:
        raise ValueError(f"rule version {rule_version} is not implemented (have {RULE_VERSION})")
    by_account = {va: r for r in requirements for va in r.virtual_accounts}
    reqs = {r.id: r for r in requirements}
    reversed_ids = {t.reverses_id for t in txns if t.reversal and t.reverses_id is not None}
    by_id = {t.id: t for t in txns}
    results: dict[int, TxnResult] = {}
    per_req: dict[UUID, list[tuple[TxnIn, set[str], dict]]] = defaultdict(list)
    ordered = sorted(txns, key=lambda t: (t.counted_at is None, t.counted_at or datetime.min.replace(tzinfo=SHANGHAI),
                                          t.id))
    for t in ordered:
        if t.direction != "CRDT" and not t.reversal:
            continue  # debits are refunds or the bank's own movements: reconciled, not matched
        flags: set[str] = set()
        detail: dict[str, Any] = {}
        if t.reversal:
            original = by_id.get(t.reverses_id) if t.reverses_id is not None else None
            req = by_account.get(original.account) if original else by_account.get(t.account)
            if original is None:
                flags.add("REVERSAL_UNMATCHED")
            else:
                detail["reverses"] = original.id
            results[t.id] = TxnResult(txn_id=t.id, requirement_id=req.id if req else None, counts=False,
                                      flags=tuple(sorted(flags)), detail=detail)
            continue
        req = by_account.get(t.account)
        if t.notes:  # most credits have none
            if any(n.startswith("batch_totals_mismatch") for n in t.notes):
                flags.add("BATCH_UNSPLIT")
            if "text_lossy" in t.notes:
                flags.add("TEXT_LOSSY")
        if req is None:
            flags.add("UNKNOWN_ACCOUNT")
            results[t.id] = TxnResult(txn_id=t.id, requirement_id=None, counts=False, flags=tuple(sorted(flags)),
                                      detail=detail)
            continue
        counts = True
        if t.status != "BOOK":
            counts = False
            detail["pending"] = t.status
        if t.currency != "CNY":
            flags.add("CURRENCY_MISMATCH")
            counts = False
        if t.id in reversed_ids:
            flags.add("REVERSED")
            counts = False
        if t.counted_at is None or t.counted_at > req.deadline:
            # the agreed bank time against the deadline, to the second (docs/deposits.md: per bank)
            if t.status == "BOOK":
                flags.add("LATE")
                if t.counted_precision == "day":
                    detail["late_precision"] = "day: the bank gave only a date; confirm the time with the bank"
            counts = False
        if normalise_name(t.payer_name) != normalise_name(req.org_name):
            flags.add("NAME_MISMATCH")
            ratio = difflib.SequenceMatcher(None, normalise_name(t.payer_name), normalise_name(req.org_name)).ratio()
            if ratio >= 0.8:
                detail["name_suggestion"] = {"registered": req.org_name, "similarity": round(ratio, 3)}
        payer_valid = True
        if req.basic_account_rule and not _basic_ok(req, t):
            # 招标投标法实施条例 第二十六条: cash deposits come from the bidder's basic account
            flags.add("NOT_BASIC_ACCOUNT")
            payer_valid = (t.id, "NOT_BASIC_ACCOUNT") in req.waived
        per_req[req.id].append((t, flags, dict(detail, counts=counts, payer_valid=payer_valid)))

    # 招标投标法实施条例 第四十条(六): deposits of different bidders from one account are deemed collusion
    if colluding is None:
        payers: dict[tuple[UUID, str], set[UUID]] = defaultdict(set)
        for rid, items in per_req.items():
            for t, flags, d in items:
                acct = normalise_account(t.payer_account)
                if acct and t.status == "BOOK" and "REVERSED" not in flags:  # see reconcile._LOT_PAYERS
                    payers[(reqs[rid].lot_id, acct)].add(reqs[rid].org_id)
        colluding = {k: v for k, v in payers.items() if len(v) > 1}

    req_results: dict[UUID, RequirementResult] = {}
    for r in requirements:
        items = per_req.get(r.id, [])
        running = 0
        req_flags: dict[str, dict[str, Any]] = {}
        invalid_payer = late = False
        for t, flags, d in items:
            counts, valid = d.pop("counts"), d.pop("payer_valid")
            key = (r.lot_id, normalise_account(t.payer_account))
            if key in colluding:
                flags.add("SAME_PAYER_ACCOUNT_FOR_DIFFERENT_BIDDERS")
                req_flags["SAME_PAYER_ACCOUNT_FOR_DIFFERENT_BIDDERS"] = {
                    "payer_account": key[1], "bidders": len(colluding[key])}
            if counts and valid:
                if running >= r.amount_fen:
                    flags.add("DUPLICATE_PAYMENT")
                    req_flags["DUPLICATE_PAYMENT"] = {"txn": t.id}
                elif running + t.amount_fen > r.amount_fen:
                    flags.add("OVERPAID")
                    d["excess_fen"] = running + t.amount_fen - r.amount_fen
                    req_flags["OVERPAID"] = {"excess_fen": d["excess_fen"]}
                running += t.amount_fen
            elif counts:
                invalid_payer = True
            elif "LATE" in flags:
                late = True
            results[t.id] = TxnResult(txn_id=t.id, requirement_id=r.id, counts=counts and valid,
                                      flags=tuple(sorted(flags)), detail=d)
        if 0 < running < r.amount_fen:
            req_flags["UNDERPAID"] = {"paid_fen": running, "required_fen": r.amount_fen}
        if r.guarantee_ok:
            state = "GUARANTEE_ACCEPTED"
        elif running >= r.amount_fen:
            state = "PAID"
        elif running > 0:
            state = "PARTIAL"
        elif invalid_payer:
            state = "INVALID_PAYER"
        elif late:
            state = "LATE"
        else:
            state = "MISSING"
        req_results[r.id] = RequirementResult(requirement_id=r.id, state=state, paid_fen=running, flags=req_flags)
    return results, req_results


def diff(before: dict[int, TxnResult], after: dict[int, TxnResult]) -> list[tuple[TxnResult | None, TxnResult]]:
    """Changed or new results, in txn order."""
    out = []
    for txn_id in sorted(after):
        old, new = before.get(txn_id), after[txn_id]
        if old is None or old.key() != new.key():
            out.append((old, new))
    return out
