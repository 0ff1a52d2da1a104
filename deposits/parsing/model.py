"""What every statement format is parsed into: statements and transactions, exact money, aware times.

A parser is a generator: it yields a `ParsedStatement` before the transactions that belong to it (so an
importer can stream a 200,000-entry file without holding it), then each `ParsedTxn`, and finally the
`ParsedFile` summary. Amounts are integers in hundredths of the currency unit ("fen" for CNY).
"""
from __future__ import annotations

import hashlib
import re
from datetime import date, datetime, timezone, tzinfo
from decimal import Decimal, InvalidOperation

import msgspec

from trading.clock import SHANGHAI
from trading.errors import Invalid


class StatementInvalid(Invalid):
    """The file itself is broken: refused with a precise reason, nothing imported."""

    code = "statement_invalid"


class StatementUnsafe(Invalid):
    """XML that could attack the parser (DOCTYPE, entities): refused before anything is read."""

    code = "statement_unsafe"


class ParsedStatement(msgspec.Struct, kw_only=True):
    seq: int                                  # position in the file (0, 1, …)
    kind: str                                 # statement | notification | intraday
    stmt_id: str
    account: str
    currency: str | None = None
    legal_seq: str | None = None              # LglSeqNb / ElctrncSeqNb / MT940 :28C: statement number
    page: str | None = None                   # StmtPgntn/PgNb / MT940 :28C: sequence number
    created_at: datetime | None = None
    opening_fen: int | None = None
    opening_date: date | None = None
    opening_currency: str | None = None
    closing_fen: int | None = None
    closing_date: date | None = None
    closing_currency: str | None = None
    notes: list[str] = msgspec.field(default_factory=list)


class ParsedTxn(msgspec.Struct, kw_only=True):
    stmt_seq: int
    entry_index: int                          # position of the entry in its statement
    detail_index: int = 0                     # position of the transaction inside a batch entry
    direction: str                            # CRDT | DBIT
    amount_fen: int
    currency: str
    status: str = "BOOK"                      # BOOK | PDNG | INFO
    reversal: bool = False
    booking_date: date | None = None
    booked_at: datetime | None = None         # when the bank gives a time
    value_date: date | None = None
    accepted_at: datetime | None = None       # AccptncDtTm: when the bank accepted the transfer
    account: str                              # the account credited/debited (virtual sub-account if given)
    payer_name: str | None = None             # the counterparty (debtor of a credit, creditor of a debit)
    payer_account: str | None = None
    payer_bank: str | None = None
    bank_ref: str | None = None               # the bank's own serial for this transaction
    entry_ref: str | None = None              # the entry-level AcctSvcrRef
    end_to_end_id: str | None = None
    instr_id: str | None = None
    remittance: str = ""
    notes: list[str] = msgspec.field(default_factory=list)

    def content_hash(self) -> str:
        """What must be equal for two sightings of one transaction (a notification and a statement)."""
        parts = [self.account, self.direction, str(self.amount_fen), self.currency, "1" if self.reversal else "0",
                 str(self.value_date or self.booking_date or ""), _norm_acct(self.payer_account),
                 " ".join((self.payer_name or "").split()), self.end_to_end_id or ""]
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


class ParsedFile(msgspec.Struct, kw_only=True):
    format: str                               # camt.053.001.02 | camt.054.001.08 | mt940 | mt942 | csv/1
    msg_id: str | None = None
    created_at: datetime | None = None
    encoding: str = "utf-8"
    statements: int = 0
    transactions: int = 0
    notes: list[str] = msgspec.field(default_factory=list)


def bank_time(moment: datetime, tz: tzinfo, where: str, text: str) -> datetime:
    """A bank's date-time, naive meaning the bank's zone `tz`: refused when it cannot be stored (UTC) or counted
    in the bank's zone or Asia/Shanghai — a time near year 1 or 9999 whose offset carries it past datetime's
    range would otherwise fail the import with an OverflowError (a 500) instead of naming the field."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    try:
        for zone in (timezone.utc, tz, SHANGHAI):
            moment.astimezone(zone)
    except OverflowError as exc:
        raise StatementInvalid(f"{where}: {text!r} is out of range") from exc
    return moment


def _norm_acct(text: str | None) -> str:
    return "".join((text or "").split()).upper()


_PLAIN_AMOUNT = re.compile(r"([0-9]{1,18})(?:\.([0-9]{1,2}))?", re.ASCII)


def amount_to_fen(text: str | None, where: str, *, comma: bool = False) -> int:
    """"1405.31" → 140531; "9," (MT940) → 900. More than two significant decimals is refused, never rounded."""
    if text is None or not text.strip():
        raise StatementInvalid(f"{where}: amount missing")
    s = text.strip()
    if not comma and (plain := _PLAIN_AMOUNT.fullmatch(s)):  # "10000.00": the common case, without Decimal
        yuan, cents = plain.groups()
        return int(yuan) * 100 + (int(cents.ljust(2, "0")) if cents else 0)
    if comma:
        s = s.replace(",", ".")
        if s.endswith("."):
            s += "0"
    try:
        value = Decimal(s)
    except InvalidOperation as exc:
        raise StatementInvalid(f"{where}: {text!r} is not an amount") from exc
    if not value.is_finite() or value < 0:
        raise StatementInvalid(f"{where}: {text!r} is not a non-negative amount")
    fen = value * 100
    if fen != fen.to_integral_value():
        raise StatementInvalid(f"{where}: {text!r} has more than two decimals")
    return int(fen)
