"""Shapes of the opening. Inputs forbid unknown fields."""
from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec


class LotForOpening(msgspec.Struct, kw_only=True):
    id: UUID
    tender_id: UUID
    number: int
    name: str
    status: str
    custodian_k: int
    custodian_n: int
    max_price_fen: int | None
    reference_price_fen: int | None = None  # 标底, announced at the opening (条例 第五十条)
    bid_fields: list[dict[str, Any]]
    ceremony_hash: bytes | None
    tender_code: str
    tender_title: str
    tender_status: str
    regime: str
    suspended: bool
    agency_org_id: UUID
    tenderer_org_id: UUID
    bid_deadline: datetime


class OpeningSession(msgspec.Struct, kw_only=True):
    lot_id: UUID
    tender_id: UUID
    status: str
    deadline: datetime
    k: int
    deadline_seq: int
    start_seq: int | None
    start_entry_sha256: str | None
    window_ends_at: datetime
    started_at: datetime
    unsealed_at: datetime | None
    published_at: datetime | None
    closed_at: datetime | None
    closed_by: UUID | None


class BidToOpen(msgspec.Struct, kw_only=True):
    lot_id: UUID
    bid_id: UUID
    version: int
    bidder_org_id: UUID
    manifest_sha256: str
    ct_root: str
    accepted_at: datetime
    state: str


class OpenedBid(msgspec.Struct, kw_only=True):
    """A bid's outcome at the opening, for evaluation (`list_opened_bids`)."""

    lot_id: UUID
    bid_id: UUID
    bidder_org_id: UUID
    bidder_name: str
    manifest_sha256: str
    status: str  # opened | revoked | withdrawn
    cause: str | None
    detail: str | None
    price_fen: int | None
    duration_days: int | None
    form: dict[str, Any] | None
    attachments: list[dict[str, Any]]
    opened_at: datetime


class ShareRow(msgspec.Struct, kw_only=True):
    bid_id: UUID
    custodian_id: UUID
    x: int
    share: bytes
    status: str
    cause: str | None


class CustodianProgress(msgspec.Struct, kw_only=True):
    custodian_id: UUID
    display_name: str
    x: int
    good: int
    bad: int
    released_at: datetime | None


class SignIn(msgspec.Struct, kw_only=True):
    org_id: UUID
    org_name: str
    user_id: UUID
    signed_in_at: datetime


class Objection(msgspec.Struct, kw_only=True):
    id: UUID
    lot_id: UUID
    org_id: UUID
    org_name: str
    user_id: UUID
    content: str
    raised_at: datetime
    answer: str | None
    answered_by: UUID | None
    answered_at: datetime | None


class OpeningRecord(msgspec.Struct, kw_only=True):
    lot_id: UUID
    record: dict[str, Any]
    record_sha256: str
    pdf_sha256: str | None
    published_at: datetime
    final_record: dict[str, Any] | None = None
    final_pdf_sha256: str | None = None
    closed_at: datetime | None = None


class ReleaseSubmit(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A custodian's signed share release: the statement bytes and the Ed25519 signature (base64 in JSON)."""

    statement: bytes
    signature: bytes


class ReleaseResult(msgspec.Struct, kw_only=True):
    release_id: UUID
    accepted: int
    rejected: list[dict[str, str]]
    ignored: int


class ObjectionRaise(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    content: str


class ObjectionAnswer(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    answer: str


class UnsealReport(msgspec.Struct, kw_only=True):
    lot_id: UUID
    opened: int
    revoked: int
    withdrawn: int
    pending: int
    status: str


class OpeningBundle(msgspec.Struct, kw_only=True):
    """What a custodian's client needs to check the list of bids to open before releasing anything."""

    lot_id: str
    tender_id: str
    deadline: str
    k: int
    custodian_id: str
    x: int
    ceremony_hash: str
    deadline_entry: bytes
    start_entry: bytes
    # entries of the lot's bid log before the deadline (bid:seal:accept, replacements, withdrawals)
    bid_entries: list[bytes]
    # manifests on the list to open: exact bytes as signed by the bidders
    manifests: list[bytes]
    # every manifest accepted for the lot before the deadline (all versions), so the client can see replacements
    accepted_manifests: list[bytes] = []
    # a platform-signed checkpoint covering the start entry, and RFC 9162 inclusion proofs (base64 hashes, by seq)
    # of every entry above to that checkpoint: the client checks the list against the signed log itself
    checkpoint: str | None = None
    proofs: dict[str, list[str]] = {}
