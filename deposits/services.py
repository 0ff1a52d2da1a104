"""Deposit rules: receiving banks, virtual sub-accounts, basic accounts, e-guarantees, flag decisions.

Services take the connection first, record the witness entry, and never commit. Import lives in
importing.py, matching in matching.py (pure) + reconcile.py, refunds in refunds.py, the ledger in ledger.py.
"""
from __future__ import annotations

import codecs
import hashlib
import re
import secrets
import unicodedata
from datetime import date
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg

from deposits import repository as repo
from deposits.errors import (
    BankInvalid,
    BasicAccountInvalid,
    BasicAccountRegistered,
    DocumentsNotObtained,
    FlagDecisionInvalid,
    GuaranteeDuplicate,
    GuaranteeInvalid,
    LotNotTakingDeposits,
)
from deposits.parsing.camt import check_prolog
from deposits.schemas import (
    AccountRequest,
    Bank,
    BankCreate,
    BasicAccount,
    BasicAccountCreate,
    FlagDecisionCreate,
    Guarantee,
    VirtualAccount,
)
from trading.accounts.schemas import User
from trading.blobs import BlobStore
from trading.clock import Clock
from trading.dates import local_date
from trading.errors import Forbidden
from trading.money import fen_to_yuan, yuan_to_fen
from trading.records import Tag, append_entry

FORMATS = {"camt.053", "camt.054", "camt.052", "mt940", "mt942", "csv"}
# The legacy encodings of the text formats (MT940/MT942, CSV) a bank may send, by Python's codec name: the GB family
# of mainland banks, Big5 of Hong Kong and Taiwan ones, and UTF-8.
LEGACY_ENCODINGS = frozenset({"gb18030", "gbk", "gb2312", "big5", "big5hkscs", "utf-8"})
WAIVABLE = {"NAME_MISMATCH", "NOT_BASIC_ACCOUNT", "OVERPAID", "DUPLICATE_PAYMENT", "UNDERPAID"}
FLAGS = {"UNDERPAID", "OVERPAID", "LATE", "NAME_MISMATCH", "NOT_BASIC_ACCOUNT", "DUPLICATE_PAYMENT",
         "UNKNOWN_ACCOUNT", "SAME_PAYER_ACCOUNT_FOR_DIFFERENT_BIDDERS", "CURRENCY_MISMATCH", "REVERSED",
         "REVERSAL_UNMATCHED", "BATCH_UNSPLIT", "TEXT_LOSSY"}
MAX_EVIDENCE = 20 * 1024 * 1024


def _org_of(user: User) -> UUID:
    if user.org_id is None:
        raise Forbidden("this needs a user of a bidder organisation")
    return user.org_id


def luhn_digit(digits: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def is_virtual_number(text: str) -> bool:
    return text.isdigit() and luhn_digit(text[:-1]) == text[-1]


async def configure_bank(conn: asyncpg.Connection, clock: Clock, data: BankCreate, *, actor: User,
                         addr: str | None = None) -> Bank:
    if not re.fullmatch(r"[0-9]{12}", data.cnaps_code):
        raise BankInvalid("cnaps_code must be the 12-digit CNAPS bank code (大额支付系统行号)", field="cnaps_code")
    if not re.fullmatch(r"[a-z0-9_-]{2,32}", data.code):
        raise BankInvalid("code: 2-32 of a-z 0-9 _ -", field="code")
    if not re.fullmatch(r"[0-9]{4,12}", data.virtual_prefix):
        raise BankInvalid("virtual_prefix: 4-12 digits agreed with the bank", field="virtual_prefix")
    bad = set(data.formats) - FORMATS
    if bad or not data.formats:
        raise BankInvalid(f"formats must be among {sorted(FORMATS)}", field="formats")
    if data.time_basis not in ("booking", "acceptance", "value"):
        raise BankInvalid("time_basis: booking | acceptance | value", field="time_basis")
    try:
        ZoneInfo(data.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise BankInvalid(f"timezone unknown: {exc}", field="timezone") from exc
    try:
        codec = codecs.lookup(data.legacy_encoding).name
    except LookupError:
        codec = None
    if codec not in LEGACY_ENCODINGS:
        # A text codec a bank really sends; not a transform such as unicode_escape, which would turn escape
        # sequences in a statement into other characters.
        raise BankInvalid(f"legacy_encoding: one of {', '.join(sorted(LEGACY_ENCODINGS))}", field="legacy_encoding")
    if await repo.find_bank_by_code(conn, data.code):
        raise BankInvalid(f"bank {data.code} already exists", field="code")
    fields = {k: getattr(data, k) for k in data.__struct_fields__}
    fields["main_account"] = "".join(data.main_account.split())
    if not re.fullmatch(r"[0-9A-Z]{6,40}", fields["main_account"]):
        raise BankInvalid("main_account: 6-40 digits or capital letters", field="main_account")
    if await conn.fetchval("SELECT 1 FROM deposit_banks WHERE cnaps_code = $1 OR main_account = $2",
                           data.cnaps_code, fields["main_account"]):
        raise BankInvalid("a bank with this CNAPS code or main account is already configured")
    bank = await repo.insert_bank(conn, fields, clock.now())
    await append_entry(conn, clock, Tag.DEPOSIT_BANK_CONFIGURE, actor=str(actor.id), addr=addr,
                       body={"bank": bank.code, "cnaps": bank.cnaps_code, "formats": bank.formats,
                             "time_basis": bank.time_basis})
    return bank


async def _open_lot(conn: asyncpg.Connection, clock: Clock, lot_id: UUID) -> asyncpg.Record:
    lot = await repo.get_lot(conn, lot_id)
    if lot["status"] != "published" or lot["tender_status"] != "published" or clock.now() >= lot["bid_deadline"]:
        raise LotNotTakingDeposits("deposit accounts are issued only while the lot takes bids")
    if lot["deposit_fen"] <= 0:
        raise LotNotTakingDeposits("this lot requires no bid deposit")
    return lot


async def request_account(conn: asyncpg.Connection, clock: Clock, lot_id: UUID, data: AccountRequest, *,
                          user: User, addr: str | None = None) -> VirtualAccount:
    """A virtual sub-account unique to (lot, bidder) at the bank the bidder picked. Asking again answers the
    same number (idempotent)."""
    org_id = _org_of(user)
    lot = await _open_lot(conn, clock, lot_id)
    if not await repo.has_downloaded(conn, lot_id, org_id):
        raise DocumentsNotObtained("obtain the lot's bidding documents before asking for a deposit account")
    bank = await repo.get_bank_by_code(conn, data.bank)
    if not bank.active:
        raise BankInvalid(f"bank {bank.code} no longer receives deposits")
    requirement = await repo.upsert_requirement(conn, lot_id, org_id, lot["deposit_fen"], clock.now())
    number = await repo.find_virtual_account(conn, bank.id, requirement)
    if number is None:
        while True:
            # Random, not sequential: a number must not reveal how many bidders asked before.
            body = bank.virtual_prefix + "".join(str(secrets.randbelow(10)) for _ in range(10))
            number = body + luhn_digit(body)
            if await repo.insert_virtual_account(conn, number, bank.id, requirement, user.id, clock.now()):
                break
        # No lot, no bidder in the body: before the deadline the log must not tell who or how many asked.
        await append_entry(conn, clock, Tag.DEPOSIT_ACCOUNT_ISSUE, actor=str(user.id), addr=addr,
                           body={"account_sha256": hashlib.sha256(number.encode()).hexdigest(), "bank": bank.code})
    return VirtualAccount(number=number, bank_code=bank.code, bank_name=bank.name, cnaps_code=bank.cnaps_code,
                          account_name=bank.main_account_name, lot_id=lot_id, amount=fen_to_yuan(lot["deposit_fen"]),
                          deadline=lot["bid_deadline"])


async def register_basic_account(conn: asyncpg.Connection, clock: Clock, data: BasicAccountCreate, *, user: User,
                                 addr: str | None = None) -> BasicAccount:
    """基本存款账户 (招标投标法实施条例 第二十六条): deposits of 依法必须招标 projects must come from it."""
    org_id = _org_of(user)
    number = "".join(data.account_number.split()).upper()
    if not re.fullmatch(r"[0-9A-Z]{6,40}", number):
        raise BasicAccountInvalid("account_number: 6-40 digits or capital letters", field="account_number")
    if data.valid_until is not None and data.valid_until < data.valid_from:
        raise BasicAccountInvalid("valid_until is before valid_from", field="valid_until")
    for f in ("bank_name", "account_name"):
        if not 1 <= len(getattr(data, f).strip()) <= 200:
            raise BasicAccountInvalid(f"{f}: 1 to 200 characters", field=f)
    # A repeat of the organisation's own registration is refused. The same number registered by another
    # organisation is not: deposits of different bidders paid from one account are collusion evidence that the
    # matching flags (RULES 6.3, 条例 第四十条(六)), and refusing here would only hide it.
    clash = await repo.overlapping_basic_account(conn, org_id, number, data.valid_from, data.valid_until)
    if clash is not None:
        until = clash["valid_until"].isoformat() if clash["valid_until"] else "open-ended"
        raise BasicAccountRegistered(f"account {number} is already registered for "
                                     f"{clash['valid_from'].isoformat()} – {until}", field="account_number")
    account = await repo.insert_basic_account(
        conn, org_id, {"account_number": number, "bank_name": data.bank_name.strip(),
                       "account_name": unicodedata.normalize("NFC", data.account_name.strip()),
                       "valid_from": data.valid_from, "valid_until": data.valid_until}, user.id, clock.now())
    await append_entry(conn, clock, Tag.DEPOSIT_BASIC_REGISTER, actor=str(user.id), addr=addr,
                       body={"org": str(org_id), "basic_account": str(account.id),
                             "account_sha256": hashlib.sha256(number.encode()).hexdigest()})
    return account


async def register_guarantee(conn: asyncpg.Connection, clock: Clock, blobs: BlobStore, lot_id: UUID, *,
                             issuer: str, number: str, amount: str, valid_from: date, valid_until: date,
                             evidence: bytes, evidence_name: str, user: User, addr: str | None = None) -> Guarantee:
    """电子保函 instead of cash. Any issuer (the platform may not designate issuers); a valid one is accepted:
    amount covers the deposit and validity covers the bid deadline (招标投标法实施条例 第二十六条)."""
    org_id = _org_of(user)
    lot = await _open_lot(conn, clock, lot_id)
    if not await repo.has_downloaded(conn, lot_id, org_id):
        raise DocumentsNotObtained("obtain the lot's bidding documents before registering a guarantee")
    issuer, number = issuer.strip(), number.strip()
    if not issuer or not number or len(issuer) > 200 or len(number) > 100:
        raise GuaranteeInvalid("issuer and number are required")
    amount_fen = yuan_to_fen(amount, "amount")
    if amount_fen < lot["deposit_fen"]:
        raise GuaranteeInvalid(f"the guarantee covers {fen_to_yuan(amount_fen)} yuan, the deposit is "
                               f"{fen_to_yuan(lot['deposit_fen'])}", field="amount")
    deadline_day = local_date(lot["bid_deadline"])
    if valid_from > deadline_day or valid_until < deadline_day or valid_until < valid_from:
        raise GuaranteeInvalid("the guarantee must be valid on the bid deadline", field="valid_until")
    if not evidence or len(evidence) > MAX_EVIDENCE:
        raise GuaranteeInvalid(f"the issuer's signed PDF or XML is required (≤ {MAX_EVIDENCE} bytes)", field="evidence")
    if evidence.startswith(b"%PDF-"):
        content_type = "application/pdf"
    elif evidence.lstrip(b"\xef\xbb\xbf \r\n\t").startswith(b"<"):
        check_prolog(evidence[:4096])
        content_type = "application/xml"
    else:
        raise GuaranteeInvalid("evidence must be the issuer's PDF or XML file", field="evidence")
    requirement = await repo.upsert_requirement(conn, lot_id, org_id, lot["deposit_fen"], clock.now())
    digest = blobs.put_bytes(evidence)
    row = await repo.insert_guarantee(conn, requirement, {
        "issuer": issuer, "number": number, "amount_fen": amount_fen, "valid_from": valid_from,
        "valid_until": valid_until, "evidence_sha256": digest, "evidence_name": evidence_name[:200] or "evidence",
        "evidence_type": content_type}, user.id, clock.now())
    if row is None:
        raise GuaranteeDuplicate(f"guarantee {number} of {issuer} is already registered")
    await append_entry(conn, clock, Tag.DEPOSIT_GUARANTEE_REGISTER, actor=str(user.id), addr=addr,
                       body={"guarantee": str(row["id"]), "evidence_sha256": digest})
    return guarantee_view(row, lot_id)


def guarantee_view(row: asyncpg.Record, lot_id: UUID) -> Guarantee:
    return Guarantee(id=row["id"], lot_id=lot_id, issuer=row["issuer"], number=row["number"],
                     amount=fen_to_yuan(row["amount_fen"]), valid_from=row["valid_from"],
                     valid_until=row["valid_until"], evidence_sha256=row["evidence_sha256"],
                     registered_at=row["registered_at"])


async def decide_flag(conn: asyncpg.Connection, clock: Clock, data: FlagDecisionCreate, *, user: User,
                      addr: str | None = None) -> dict:
    """A reviewer's decision is a new row (actor, reason); nothing is edited. LATE and the collusion flag
    cannot be waived: the deadline and 条例 第四十条 are not the reviewer's to lift."""
    if data.flag not in FLAGS:
        raise FlagDecisionInvalid(f"unknown flag {data.flag}", field="flag")
    if data.decision not in ("confirm", "waive"):
        raise FlagDecisionInvalid("decision: confirm | waive", field="decision")
    if data.decision == "waive" and data.flag not in WAIVABLE:
        raise FlagDecisionInvalid(f"{data.flag} cannot be waived", field="decision")
    if len(data.reason.strip()) < 2:
        raise FlagDecisionInvalid("give the reason for the decision", field="reason")
    if (data.txn_id is None) == (data.requirement_id is None):
        raise FlagDecisionInvalid("name either txn_id or requirement_id")
    current = await conn.fetchval(
        """SELECT $3 = ANY(flags) FROM deposit_matches WHERE txn_id = $1
           UNION ALL SELECT true FROM deposit_requirement_flags WHERE requirement_id = $2 AND flag = $3""",
        data.txn_id, data.requirement_id, data.flag)
    if not current:
        raise FlagDecisionInvalid(f"{data.flag} is not raised on that subject")
    row = await conn.fetchrow(
        """INSERT INTO deposit_flag_decisions (txn_id, requirement_id, flag, decision, reason, actor, decided_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id, decided_at""",
        data.txn_id, data.requirement_id, data.flag, data.decision, data.reason.strip(), user.id, clock.now())
    await append_entry(conn, clock, Tag.DEPOSIT_FLAG_DECIDE, actor=str(user.id), addr=addr,
                       body={"decision": str(row["id"]), "flag": data.flag, "outcome": data.decision,
                             "txn": data.txn_id, "requirement": str(data.requirement_id) if data.requirement_id
                             else None})
    return {"id": str(row["id"]), "decided_at": row["decided_at"].isoformat()}
