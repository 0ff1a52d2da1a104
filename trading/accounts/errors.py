from trading.errors import Conflict, Forbidden, Invalid, NotAuthenticated, NotFound


class CreditCodeInvalid(Invalid):
    code = "credit_code_invalid"


class OperatorMayNotBid(Forbidden):
    code = "platform_operator_may_not_bid"


class OrganisationExists(Conflict):
    code = "organisation_exists"


class OrganisationNotFound(NotFound):
    code = "organisation_not_found"


class UsernameTaken(Conflict):
    code = "username_taken"


class PasswordTooWeak(Invalid):
    code = "password_too_weak"


class LoginFailed(NotAuthenticated):
    code = "login_failed"


class TokenInvalid(NotAuthenticated):
    code = "token_invalid"


class RoleRequired(Forbidden):
    code = "role_required"


class UserNotFound(NotFound):
    code = "user_not_found"
