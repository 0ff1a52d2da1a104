"""SWIFT MT940 (customer statement) and MT942 (interim transaction report), through the `mt-940` package.

Encoding: UTF-8 when the bytes are valid UTF-8, else the bank's configured legacy encoding (Chinese banks send
GB18030), decoded strictly: a byte that fits neither is refused with its offset, never guessed. Text that
already carries U+FFFD (a code page lost upstream, before the file reached us) is imported but marked
`text_lossy`, so a payer name from it is never taken as an exact match.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import mt940

from deposits.parsing.model import ParsedFile, ParsedStatement, ParsedTxn, StatementInvalid, amount_to_fen

_MT942 = re.compile(rb"(?m)^:(13D|34F|90D|90C):")
_ACCOUNT_IN_TEXT = re.compile(r"(?:Z RACH\.|FROM ACC(?:OUN)?T|付款账号|付款人账号)[:：]?\s*([0-9A-Z ]{8,40}?)\s*[;\n]", re.I)
_NAME_IN_TEXT = re.compile(r"(?:OD|FROM|付款人|付款户名)[:：]\s*([^;\n]+)", re.I)
_DIRECTIONS = {"C": ("CRDT", False), "D": ("DBIT", False), "RC": ("DBIT", True), "RD": ("CRDT", True)}


def decode(data: bytes, legacy: str) -> tuple[str, str]:
    """(text, encoding used)."""
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode(legacy), legacy
    except (UnicodeDecodeError, LookupError) as exc:
        start = getattr(exc, "start", 0)
        raise StatementInvalid(f"bytes at offset {start} are neither UTF-8 nor {legacy}: "
                               f"{data[start:start + 8].hex(' ')}") from exc


def parse_swift(data: bytes, *, legacy_encoding: str = "gb18030", tz: ZoneInfo) -> Iterator:
    text, encoding = decode(data, legacy_encoding)
    intraday = bool(_MT942.search(data))
    fmt = "mt942" if intraday else "mt940"
    if ":20:" not in text:
        raise StatementInvalid(f"{fmt}: no :20: statement block found")
    try:
        blocks = mt940.parse_statements(data, encoding=encoding, options=mt940.Options.all())
    except Exception as exc:  # the library raises plain exceptions on malformed tags
        raise StatementInvalid(f"{fmt}: {type(exc).__name__}: {exc}") from exc
    summary = ParsedFile(format=fmt, encoding=encoding)
    if "\ufffd" in text:
        summary.notes.append("text_lossy: the file carries U+FFFD replacement characters (a lost code page)")
    n = 0
    for seq, block in enumerate(blocks):
        d = block.data
        account = (d.get("account_identification") or "").strip()
        stmt_id = (d.get("transaction_reference") or "").strip()
        if not account:
            raise StatementInvalid(f"{fmt} statement {seq + 1} ({stmt_id}): :25: account missing")
        opening = d.get("final_opening_balance") or d.get("intermediate_opening_balance")
        closing = d.get("final_closing_balance") or d.get("intermediate_closing_balance")
        created = d.get("date") if isinstance(d.get("date"), datetime) else None
        st = ParsedStatement(
            seq=seq, kind="intraday" if intraday else "statement", stmt_id=stmt_id, account=account,
            legal_seq=d.get("statement_number"), page=d.get("sequence_number"),
            created_at=created.astimezone(tz) if created else None,
        )
        if opening is not None:
            st.opening_fen = _signed(opening.amount, f"{stmt_id} :60:")
            st.opening_date, st.opening_currency = opening.date, opening.amount.currency
            st.currency = st.opening_currency
        if closing is not None:
            st.closing_fen = _signed(closing.amount, f"{stmt_id} :62:")
            st.closing_date, st.closing_currency = closing.date, closing.amount.currency
            st.currency = st.currency or st.closing_currency
        if d.get("intermediate_closing_balance") is not None:
            st.notes.append("intermediate_balance")
        yield st
        for index, tr in enumerate(block):
            t = tr.data
            where = f"{fmt} statement {stmt_id} transaction {index + 1}"
            mark = (t.get("status") or "").upper()
            if mark not in _DIRECTIONS:
                raise StatementInvalid(f"{where}: debit/credit mark {mark!r} is unknown")
            direction, reversal = _DIRECTIONS[mark]
            amount = t["amount"]
            details = t.get("transaction_details") or ""
            bank_ref = (t.get("bank_reference") or "").strip() or None
            name = t.get("applicant_name") or _first(_NAME_IN_TEXT, details) or t.get("non_swift_15")
            account_no = t.get("applicant_iban") or _first(_ACCOUNT_IN_TEXT, details)
            remittance = " | ".join(x for x in (t.get("purpose"), t.get("posting_text"), details,
                                                t.get("non_swift_text"), t.get("extra_details")) if x)
            txn = ParsedTxn(
                stmt_seq=seq, entry_index=index, direction=direction,
                amount_fen=abs(_signed(amount, where)), currency=amount.currency or st.currency or "",
                status="INFO" if intraday else "BOOK", reversal=reversal,
                booking_date=t.get("entry_date") or t.get("date"), value_date=t.get("date"),
                account=account, payer_name=name.strip() if name else None,
                payer_account=account_no.replace(" ", "") if account_no else None,
                payer_bank=t.get("applicant_bin"),
                bank_ref=None if bank_ref in (None, "NONREF") else bank_ref,
                end_to_end_id=t.get("end_to_end_reference"),
                instr_id=None if t.get("customer_reference") in (None, "NONREF") else t.get("customer_reference"),
                remittance=remittance[:2000],
            )
            if not txn.currency:
                raise StatementInvalid(f"{where}: no currency")
            if "\ufffd" in (remittance + (name or "")):
                txn.notes.append("text_lossy")
            n += 1
            yield txn
    summary.statements = len(blocks)
    summary.transactions = n
    if not blocks:
        raise StatementInvalid(f"{fmt}: no statement block found")
    yield summary


def _signed(amount, where: str) -> int:
    value = amount.amount
    fen = amount_to_fen(str(abs(value)), where)
    return -fen if value < 0 else fen


def _first(pattern: re.Pattern, text: str) -> str | None:
    m = pattern.search(text)
    return m.group(1).strip() if m else None
