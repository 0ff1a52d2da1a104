"""Errors of evaluation and award: `<Subject><Condition>`, each with its HTTP status and a stable code."""
from trading.errors import Conflict, Forbidden, Invalid, NotFound


class SchemeInvalid(Invalid):
    code = "scheme_invalid"


class SchemeMissing(Conflict):
    code = "scheme_missing"


class SchemeFrozen(Conflict):
    code = "scheme_frozen"


class LotNotEvaluating(Conflict):
    code = "lot_not_evaluating"


class EvaluationNotFound(NotFound):
    code = "evaluation_not_found"


class EvaluationAlreadyStarted(Conflict):
    code = "evaluation_already_started"


class EvaluationStateWrong(Conflict):
    code = "evaluation_state_wrong"


class CommitteeInvalid(Conflict):
    code = "committee_invalid"


class MemberRequired(Forbidden):
    code = "member_required"


class ChairRequired(Forbidden):
    code = "chair_required"


class AgencyRequired(Forbidden):
    code = "agency_required"


class DeclarationRequired(Forbidden):
    code = "declaration_required"


class DeclarationAlreadySigned(Conflict):
    code = "declaration_already_signed"


class BidNotFound(NotFound):
    code = "bid_not_found"


class AttachmentNotFound(NotFound):
    code = "attachment_not_found"


class SheetInvalid(Invalid):
    code = "sheet_invalid"


class SheetLocked(Conflict):
    code = "sheet_locked"


class ScoresHidden(Forbidden):
    code = "scores_hidden"


class FlagNotFound(NotFound):
    code = "flag_not_found"


class FlagAlreadyAnswered(Conflict):
    code = "flag_already_answered"


class FlagsOpen(Conflict):
    code = "flags_open"


class RejectionNotAllowed(Conflict):
    code = "rejection_not_allowed"


class ReasonRequired(Invalid):
    code = "reason_required"


class ReportAlreadyConfirmed(Conflict):
    code = "report_already_confirmed"


class PublicityNotFound(NotFound):
    code = "publicity_not_found"


class PublicityTooShort(Invalid):
    code = "publicity_too_short"


class PublicityClosed(Conflict):
    code = "publicity_closed"


class PublicityRunning(Conflict):
    code = "publicity_running"


class ObjectionNotFound(NotFound):
    code = "objection_not_found"


class ObjectionAlreadyAnswered(Conflict):
    code = "objection_already_answered"


class ObjectionsUnanswered(Conflict):
    code = "objections_unanswered"


class ObjectionUpheld(Conflict):
    code = "objection_upheld"


class ObjectorNotEntitled(Forbidden):
    code = "objector_not_entitled"


class WinnerNotCandidate(Invalid):
    code = "winner_not_candidate"


class AwardAlreadyIssued(Conflict):
    code = "award_already_issued"


class EvaluationTimeOver(Conflict):
    code = "evaluation_time_over"


class TimeLimitInvalid(Invalid):
    code = "time_limit_invalid"


class NoTimeLimit(Conflict):
    code = "no_time_limit"


class TimeAlreadyRequested(Conflict):
    code = "time_already_requested"


class AwardNotIssued(Conflict):
    code = "award_not_issued"


class ContractAlreadyRecorded(Conflict):
    code = "contract_already_recorded"


class ContractInvalid(Invalid):
    code = "contract_invalid"


class ContractTermsMismatch(Invalid):
    code = "contract_terms_mismatch"


class PerformanceBondTooHigh(Invalid):
    code = "performance_bond_too_high"


class SupervisorReportSubmitted(Conflict):
    code = "supervisor_report_already_submitted"


class ReviewNotAllowed(Conflict):
    code = "review_not_allowed"


class ReportSigningOpen(Conflict):
    code = "report_signing_open"


class ClarificationNotFound(NotFound):
    code = "clarification_not_found"


class ClarificationClosed(Conflict):
    code = "clarification_closed"


class NotYourBid(Forbidden):
    code = "not_your_bid"


class PriceCorrectionInvalid(Invalid):
    code = "price_correction_invalid"


class PriceCorrectionNotFound(NotFound):
    code = "price_correction_not_found"


class PriceCorrectionClosed(Conflict):
    code = "price_correction_closed"


class PriceCorrectionExists(Conflict):
    code = "price_correction_exists"


# Government procurement (政府采购货物和服务招标投标管理办法 第六十八、六十九条; 政府采购法 第五十二、五十三条)

class NotInGovProcurement(Conflict):
    code = "not_in_gov_procurement"


class GovProcurementOnly(Conflict):
    code = "gov_procurement_only"


class PurchaserRequired(Forbidden):
    code = "purchaser_required"


class ReportAlreadySent(Conflict):
    code = "report_already_sent"


class ReportNotSent(Conflict):
    code = "report_not_sent"


class WinnerAlreadyDetermined(Conflict):
    code = "winner_already_determined"


class WinnerNotDetermined(Conflict):
    code = "winner_not_determined"


class DecisionPeriodOver(Conflict):
    code = "decision_period_over"


class ChallengePeriodClosed(Conflict):
    code = "challenge_period_closed"


class ChallengeUpheld(Conflict):
    code = "challenge_upheld"


class RescissionCauseInvalid(Invalid):
    """The cause is not one the regime's article names (evaluation/rescission.py: CAUSES)."""

    code = "rescission_cause_invalid"


class ChallengeNotUpheld(Conflict):
    code = "challenge_not_upheld"


class NoCandidateLeft(Conflict):
    code = "no_candidate_left"


class RetenderRequired(Conflict):
    code = "retender_required"


class AwardChanged(Conflict):
    """The request names a winner whose award is no longer in force (a repeated or stale request)."""

    code = "award_changed"
