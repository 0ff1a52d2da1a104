"""Refusals of the bids package: each with its HTTP status and a stable machine code."""
from __future__ import annotations

from trading.errors import Conflict, Forbidden, Invalid, NotFound


class IdentityKeyInvalid(Invalid):
    code = "identity_key_invalid"


class IdentityKeyExists(Conflict):
    code = "identity_key_exists"


class IdentityKeyNotFound(NotFound):
    code = "identity_key_not_found"


class IdentityKeyNotApproved(Forbidden):
    code = "identity_key_not_approved"


class CustodianNotAssigned(Forbidden):
    code = "custodian_not_assigned"


class LotKeysFixed(Conflict):
    code = "lot_keys_fixed"


class LotKeyInvalid(Invalid):
    code = "lot_key_invalid"


class LotNotFound(NotFound):
    code = "lot_not_found"


class LotNotOpenForBids(Conflict):
    code = "lot_not_open_for_bids"


class BidDeadlinePassed(Conflict):
    # 电子招标投标办法 第二十七条: a bid whose transmission is not verified before the deadline is refused.
    status = 409
    code = "bid_deadline_passed"


class ManifestRefused(Invalid):
    code = "manifest_invalid"


class ManifestSignatureInvalid(Invalid):
    code = "manifest_signature_invalid"


class CeremonyMismatch(Invalid):
    code = "ceremony_mismatch"


class BidderNotEligible(Forbidden):
    code = "bidder_not_eligible"


class DocumentsNotObtained(Forbidden):
    code = "documents_not_obtained"


class BidVersionConflict(Conflict):
    code = "bid_version_conflict"


class BidTooLarge(Invalid):
    status = 413
    code = "bid_too_large"


class UploadNotFound(NotFound):
    code = "upload_not_found"


class UploadOffsetMismatch(Conflict):
    code = "upload_offset_mismatch"


class UploadIncomplete(Conflict):
    code = "upload_incomplete"


class UploadHashMismatch(Invalid):
    code = "ciphertext_hash_mismatch"


class BidNotFound(NotFound):
    code = "bid_not_found"


class WithdrawalInvalid(Invalid):
    code = "withdrawal_invalid"
