"""Errors of the opening: each with its HTTP status and a stable machine code."""
from trading.errors import Conflict, Forbidden, Invalid, NotFound


class OpeningNotFound(NotFound):
    code = "opening_not_found"


class OpeningLotNotFound(NotFound):
    code = "opening_lot_not_found"


class OpeningBeforeDeadline(Conflict):
    """招标投标法 第三十四条: the opening happens at the deadline instant, never before."""

    code = "opening_before_deadline"


class OpeningLotSuspended(Conflict):
    """招标投标法实施条例 第二十二条: no deadline or opening transition while an objection is unanswered."""

    code = "opening_lot_suspended"


class OpeningLotNotOpenable(Conflict):
    code = "opening_lot_not_openable"


class OpeningFailed(Conflict):
    """流标: the lot failed; nothing is unsealed (招标投标法实施条例 第四十四条)."""

    code = "opening_failed"


class OpeningNotUnsealing(Conflict):
    code = "opening_not_unsealing"


class OpeningWindowClosed(Conflict):
    code = "opening_window_closed"


class OpeningNotPublished(Conflict):
    code = "opening_not_published"


class OpeningClosed(Conflict):
    code = "opening_closed"


class OpeningObjectionsUnanswered(Conflict):
    """招标投标法实施条例 第四十四条: the opening cannot close while an objection is unanswered."""

    code = "opening_objections_unanswered"


class OpeningNotCustodian(Forbidden):
    code = "opening_not_custodian"


class OpeningNotParticipant(Forbidden):
    code = "opening_not_participant"


class OpeningNotAgency(Forbidden):
    code = "opening_not_agency"


class ReleaseInvalid(Invalid):
    code = "release_invalid"


class ReleaseSignatureInvalid(Invalid):
    code = "release_signature_invalid"


class ObjectionNotFound(NotFound):
    code = "objection_not_found"


class ObjectionAlreadyAnswered(Conflict):
    code = "objection_already_answered"


class RecordAlreadyConfirmed(Conflict):
    code = "record_already_confirmed"


class OpeningTextInvalid(Invalid):
    code = "opening_text_invalid"
