"""Deposit Structs. Inputs forbid unknown fields; money in the API is a decimal string in yuan."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

import msgspec


class Bank(msgspec.Struct, kw_only=True):
    id: UUID
    code: str
    name: str
    cnaps_code: str
    bic: str | None
    main_account: str
    main_account_name: str
    currency: str
    formats: list[str]
    legacy_encoding: str
    time_basis: str
    timezone: str
    virtual_prefix: str
    active: bool


class BankCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    code: str
    name: str
    cnaps_code: str
    main_account: str
    main_account_name: str
    formats: list[str]
    virtual_prefix: str
    bic: str | None = None
    currency: str = "CNY"
    legacy_encoding: str = "gb18030"
    time_basis: str = "booking"
    timezone: str = "Asia/Shanghai"


class AccountRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    bank: str                                   # bank code chosen by the bidder


class VirtualAccount(msgspec.Struct, kw_only=True):
    number: str
    bank_code: str
    bank_name: str
    cnaps_code: str
    account_name: str                           # the centre's deposit account name (收款户名)
    lot_id: UUID
    amount: str                                 # yuan
    deadline: datetime


class BasicAccountCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    account_number: str
    bank_name: str
    account_name: str
    valid_from: date
    valid_until: date | None = None


class BasicAccount(msgspec.Struct, kw_only=True):
    id: UUID
    org_id: UUID
    account_number: str
    bank_name: str
    account_name: str
    valid_from: date
    valid_until: date | None


class Guarantee(msgspec.Struct, kw_only=True):
    id: UUID
    lot_id: UUID
    issuer: str
    number: str
    amount: str
    valid_from: date
    valid_until: date
    evidence_sha256: str
    registered_at: datetime


class ImportResult(msgspec.Struct, kw_only=True):
    file_id: UUID
    sha256: str
    format: str
    already_imported: bool
    statements: int
    transactions: int
    new_transactions: int
    duplicates: int
    conflicts: int
    promoted: int = 0
    refunds_settled: int = 0
    notes: list[str] = msgspec.field(default_factory=list)
    match: dict[str, Any] | None = None


class FlagDecisionCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    flag: str
    decision: str                               # confirm | waive
    reason: str
    txn_id: int | None = None
    requirement_id: UUID | None = None


class RetentionCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: str
    article: str = "招标投标法实施条例 第三十五条第二款"


class MyDeposit(msgspec.Struct, kw_only=True):
    lot_id: UUID
    required: str
    deadline: datetime
    accounts: list[VirtualAccount]
    paid: str
    status: str                                 # live status before the deadline, frozen state after
    frozen: bool
    credits: list[dict[str, Any]]
    guarantees: list[Guarantee]
    refunds: list[dict[str, Any]]


class LotDeposits(msgspec.Struct, kw_only=True):
    lot_id: UUID
    deadline: datetime
    deadline_passed: bool
    # Before the deadline only counts (who has paid is as secret as who has bid).
    counts: dict[str, int]
    bidders: list[dict[str, Any]] | None = None
