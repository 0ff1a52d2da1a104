"""API shapes of the bids package. Binary values travel as base64 (msgspec's bytes encoding)."""
from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec


class IdentityKeyCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    public_key: bytes                       # raw Ed25519, 32 bytes
    proof: bytes                            # signature over identity_proof_bytes(user_id, public_key)


class IdentityKey(msgspec.Struct, kw_only=True):
    id: UUID
    user_id: UUID
    algorithm: str
    public_key: bytes
    status: str
    registered_at: datetime
    approved_at: datetime | None = None
    revoked_at: datetime | None = None


class LotKeyUpload(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    suite: str
    public_key: bytes
    signature: bytes                        # Ed25519 over ceremony.key_statement_bytes(...)


class CustodianSeat(msgspec.Struct, kw_only=True):
    """What a custodian needs to make its lot key: its x-coordinate and the suite the lot requires."""

    lot_id: UUID
    tender_id: UUID
    custodian_id: UUID
    x: int
    suite: str
    k: int
    n: int
    hpke_public_key: bytes | None
    registered_at: datetime | None


class LotSealInfo(msgspec.Struct, kw_only=True):
    """What a bidder's client needs to seal for a lot (public once the lot is published)."""

    lot_id: UUID
    tender_id: UUID
    number: int
    name: str
    bid_deadline: datetime
    max_price_fen: int | None
    bid_fields: list[dict]
    ceremony_hash: bytes
    ceremony_record: bytes


class UploadCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    manifest: bytes                         # exact manifest bytes
    signature: bytes


class UploadState(msgspec.Struct, kw_only=True):
    upload_id: UUID
    offset: int
    length: int


class BidAccepted(msgspec.Struct, kw_only=True):
    bid_id: str                             # 32 hex
    lot_id: UUID
    version: int
    manifest_sha256: str
    ct_root: str
    received_at: datetime
    log_index: int
    receipt: str                            # the signed note


class MyBid(msgspec.Struct, kw_only=True):
    """A bidder's own view of its bids on a lot (never anyone else's)."""

    bid_id: str
    version: int
    status: str
    manifest_sha256: str
    ct_root: str
    ct_len: int
    accepted_at: datetime
    receipt: str


class WithdrawalCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    statement: bytes                        # seal.withdrawal_bytes(...)
    signature: bytes


class BidWithdrawn(msgspec.Struct, kw_only=True):
    bid_id: str
    lot_id: UUID
    withdrawn_at: datetime
    log_index: int


class BidToOpen(msgspec.Struct, kw_only=True):
    """One bid the opening must unseal: the latest non-withdrawn version per bidder, accepted before the deadline."""

    bid_id: UUID
    lot_id: UUID
    tender_id: UUID
    bidder_org_id: UUID
    signer_id: UUID
    version: int
    manifest: bytes
    signature: bytes
    manifest_sha256: str                    # hex
    ct_root: str                          # hex = blob store key
    ct_len: int
    accepted_at: datetime
    accept_seq: int
    signer_public_key: bytes                # the identity key that signed the manifest
