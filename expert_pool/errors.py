"""Errors of the expert pool: `<Subject><Condition>`, each with its HTTP status and a stable machine code."""
from trading.errors import Conflict, Forbidden, Invalid, NotFound


class ExpertNotFound(NotFound):
    code = "expert_not_found"


class ExpertAlreadyApplied(Conflict):
    code = "expert_already_applied"


class ConflictAlreadyDeclared(Conflict):
    code = "conflict_already_declared"


class ExpertApplicationInvalid(Invalid):
    code = "expert_application_invalid"


class ExpertIneligible(Invalid):
    """招标投标法 第三十七条 and the age limit: refused on approval (and excluded at each draw)."""

    code = "expert_ineligible"


class ExpertStatusInvalid(Conflict):
    code = "expert_status_invalid"


class ExpertReasonRequired(Invalid):
    code = "expert_reason_required"


class SpecialtyUnknown(Invalid):
    code = "specialty_unknown"


class DrawNotFound(NotFound):
    code = "draw_not_found"


class DrawForbidden(Forbidden):
    code = "draw_forbidden"


class DrawRequestInvalid(Invalid):
    """招标投标法 第三十七条: ≥ 5 members, odd, technical/economic experts ≥ 2/3."""

    code = "draw_request_invalid"


class DrawPoolShort(Conflict):
    code = "draw_pool_short"


class DrawLotNotReady(Conflict):
    code = "draw_lot_not_ready"


class DrawAlreadyExists(Conflict):
    code = "draw_already_exists"


class DrawStateInvalid(Conflict):
    code = "draw_state_invalid"


class InvitationNotFound(NotFound):
    code = "invitation_not_found"


class InvitationClosed(Conflict):
    code = "invitation_closed"


class InvitationExpired(Conflict):
    code = "invitation_expired"


class MemberNotFound(NotFound):
    code = "member_not_found"
