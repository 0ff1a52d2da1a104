"""Errors of complaints: `<Subject><Condition>`, each with its HTTP status and a stable code."""
from trading.errors import Conflict, Forbidden, Invalid, NotFound


class ComplaintNotFound(NotFound):
    """Also what anyone who may not see a complaint gets: its existence is not revealed."""
    code = "complaint_not_found"


class ComplaintIncomplete(Invalid):
    """条例 第六十条: 投诉应当有明确的请求和必要的证明材料."""
    code = "complaint_incomplete"


class ComplaintMatterInvalid(Invalid):
    code = "complaint_matter_invalid"


class KnownOnInvalid(Invalid):
    code = "known_on_invalid"


class NotInterestedParty(Forbidden):
    code = "not_interested_party"


class ObjectionRequired(Conflict):
    code = "objection_required"


class ObjectionPending(Conflict):
    code = "objection_pending"


class ComplaintPeriodOver(Conflict):
    code = "complaint_period_over"


class RegulatorRequired(Forbidden):
    code = "regulator_required"


class ComplaintAlreadyReviewed(Conflict):
    code = "complaint_already_reviewed"


class ComplaintNotAccepted(Conflict):
    code = "complaint_not_accepted"


class ComplaintAlreadyDecided(Conflict):
    code = "complaint_already_decided"


class SuspensionStateWrong(Conflict):
    code = "suspension_state_wrong"


class SuspensionLimitReached(Conflict):
    """政府采购法 第五十七条: the procurement is suspended for 30 days at most."""
    code = "suspension_limit_reached"


class ComplaintClosed(Conflict):
    code = "complaint_closed"


class EvidenceNotFound(NotFound):
    code = "evidence_not_found"


class TenderNotComplainable(Conflict):
    code = "tender_not_complainable"


class WithdrawalPending(Conflict):
    code = "withdrawal_pending"


class WithdrawalNotRequested(Conflict):
    code = "withdrawal_not_requested"


class ComplaintWithdrawnBefore(Conflict):
    """投诉人不得以同一事实和理由再提出投诉 (recalled): the same matter and objection were complained of and withdrawn."""
    code = "complaint_withdrawn_before"
