"""Errors of the tenders package: `<Subject><Condition>`, each with its HTTP status and stable code."""
from trading.errors import Conflict, Forbidden, Invalid, NotFound


class TenderNotFound(NotFound):
    code = "tender_not_found"


class LotNotFound(NotFound):
    code = "lot_not_found"


class DocumentNotFound(NotFound):
    code = "document_not_found"


class ObjectionNotFound(NotFound):
    code = "objection_not_found"


class TenderCodeTaken(Conflict):
    code = "tender_code_taken"


class TransitionIllegal(Conflict):
    code = "illegal_transition"


class TenderSuspended(Conflict):
    code = "tender_suspended"


class TenderNotDraft(Conflict):
    code = "tender_not_draft"


class TenderNotPublished(Conflict):
    code = "tender_not_published"


class CeremonyIncomplete(Conflict):
    code = "ceremony_incomplete"


class CustodianKeyInvalid(Conflict):
    code = "custodian_key_invalid"


class DocumentsUnavailable(Conflict):
    code = "documents_unavailable"


class BidDeadlinePassed(Conflict):
    code = "bid_deadline_passed"


class ObjectionTooLate(Conflict):
    code = "objection_too_late"


class ObjectionAlreadyAnswered(Conflict):
    code = "objection_already_answered"


class AmendmentTooLate(Conflict):
    code = "amendment_too_late"


class DownloadersConfidential(Forbidden):
    code = "downloaders_confidential"


class NotTheAgency(Forbidden):
    code = "not_the_agency"


class BidderNotApproved(Forbidden):
    code = "bidder_not_approved"


class DocumentsNotObtained(Forbidden):
    code = "documents_not_obtained"


class DepositTooHigh(Invalid):
    code = "deposit_too_high"


class MinimumPriceForbidden(Invalid):
    code = "minimum_price_forbidden"


class BidPeriodTooShort(Invalid):
    code = "bid_period_too_short"


class DocumentPeriodTooShort(Invalid):
    code = "document_period_too_short"


class TimelineInvalid(Invalid):
    code = "timeline_invalid"


class ReasonRequired(Invalid):
    code = "reason_required"


class CustodiansInvalid(Invalid):
    code = "custodians_invalid"


class LotInvalid(Invalid):
    code = "lot_invalid"
