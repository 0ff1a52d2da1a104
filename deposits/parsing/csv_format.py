"""tenderhall's documented bank CSV (`csv/1`), for banks that send neither ISO 20022 nor SWIFT.

UTF-8 (a BOM is allowed) or the bank's legacy encoding (GB18030). First line: the header, exactly these
columns in any order (extra columns are refused, so a renamed column cannot silently drop data):

    statement_id, account, serial, direction, amount, currency, status, booked_at, value_date,
    payer_name, payer_account, payer_bank, end_to_end_id, remittance

direction: CRDT | DBIT (reversals: `RCRDT`/`RDBIT`); amount: yuan with at most two decimals, no sign;
status: BOOK | PDNG | INFO; booked_at: ISO 8601 with offset (naive = the bank's zone); value_date: YYYY-MM-DD.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date, datetime
from zoneinfo import ZoneInfo

from deposits.parsing.model import (
    ParsedFile,
    ParsedStatement,
    ParsedTxn,
    StatementInvalid,
    amount_to_fen,
    bank_time,
)
from deposits.parsing.swift import decode

COLUMNS = ("statement_id", "account", "serial", "direction", "amount", "currency", "status", "booked_at",
           "value_date", "payer_name", "payer_account", "payer_bank", "end_to_end_id", "remittance")
_DIR = {"CRDT": ("CRDT", False), "DBIT": ("DBIT", False), "RCRDT": ("DBIT", True), "RDBIT": ("CRDT", True)}


def parse_csv(data: bytes, *, legacy_encoding: str = "gb18030", tz: ZoneInfo) -> Iterator:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    text, encoding = decode(data, legacy_encoding)
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    header = tuple(h.strip() for h in (reader.fieldnames or ()))
    if set(header) != set(COLUMNS) or len(header) != len(COLUMNS):
        missing = sorted(set(COLUMNS) - set(header))
        extra = sorted(set(header) - set(COLUMNS))
        raise StatementInvalid(f"csv/1 header: missing {missing}, unexpected {extra}")
    reader.fieldnames = list(header)
    summary = ParsedFile(format="csv/1", encoding=encoding)
    statements: dict[tuple[str, str], ParsedStatement] = {}
    n = 0
    try:
        for line, row in enumerate(reader, start=2):
            if None in row or any(v is None for v in row.values()):
                raise StatementInvalid(f"csv/1 line {line}: wrong number of fields")
            row = {k: v.strip() for k, v in row.items()}
            where = f"csv/1 line {line}"
            key = (row["statement_id"], row["account"])
            if not all(key):
                raise StatementInvalid(f"{where}: statement_id and account are required")
            st = statements.get(key)
            if st is None:
                st = statements[key] = ParsedStatement(seq=len(statements), kind="statement",
                                                        stmt_id=key[0], account=key[1])
                yield st
            if row["direction"] not in _DIR:
                raise StatementInvalid(f"{where}: direction {row['direction']!r} is not CRDT/DBIT/RCRDT/RDBIT")
            direction, reversal = _DIR[row["direction"]]
            status = row["status"] or "BOOK"
            if status not in ("BOOK", "PDNG", "INFO"):
                raise StatementInvalid(f"{where}: status {status!r} is not BOOK/PDNG/INFO")
            booked_at = _datetime(row["booked_at"], where, tz) if row["booked_at"] else None
            value_date = _date(row["value_date"], where) if row["value_date"] else None
            n += 1
            yield ParsedTxn(
                stmt_seq=st.seq, entry_index=n - 1, direction=direction,
                amount_fen=amount_to_fen(row["amount"], where), currency=row["currency"] or "CNY",
                status=status, reversal=reversal, booked_at=booked_at,
                booking_date=booked_at.astimezone(tz).date() if booked_at else value_date, value_date=value_date,
                account=row["account"], payer_name=row["payer_name"] or None,
                payer_account=row["payer_account"].replace(" ", "") or None, payer_bank=row["payer_bank"] or None,
                bank_ref=row["serial"] or None, end_to_end_id=row["end_to_end_id"] or None,
                remittance=row["remittance"],
            )
    except csv.Error as exc:
        raise StatementInvalid(f"csv/1 line {reader.line_num}: {exc}") from exc
    if not n:
        raise StatementInvalid("csv/1: no transactions")
    summary.statements = len(statements)
    summary.transactions = n
    yield summary


def _datetime(text: str, where: str, tz: ZoneInfo) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise StatementInvalid(f"{where}: booked_at {text!r} is not ISO 8601") from exc
    return bank_time(moment, tz, f"{where}: booked_at", text)


def _date(text: str, where: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise StatementInvalid(f"{where}: value_date {text!r} is not YYYY-MM-DD") from exc
