"""Deposit errors: `<Subject><Condition>`, each with its HTTP status and a stable machine code."""
from __future__ import annotations

from deposits.parsing.model import StatementInvalid, StatementUnsafe
from trading.errors import Conflict, Forbidden, Invalid, NotFound

__all__ = ["StatementInvalid", "StatementUnsafe"]


class BankNotFound(NotFound):
    code = "bank_not_found"


class BankInvalid(Invalid):
    code = "bank_invalid"


class BankFormatNotAgreed(Invalid):
    code = "bank_format_not_agreed"


class LotNotFound(NotFound):
    code = "lot_not_found"


class DocumentsNotObtained(Forbidden):
    code = "documents_not_obtained"


class LotNotTakingDeposits(Conflict):
    code = "lot_not_taking_deposits"


class RequirementNotFound(NotFound):
    code = "requirement_not_found"


class BasicAccountInvalid(Invalid):
    code = "basic_account_invalid"


class BasicAccountRegistered(Conflict):
    """The organisation has already registered this account number for an overlapping period."""
    code = "basic_account_registered"


class GuaranteeInvalid(Invalid):
    code = "guarantee_invalid"


class GuaranteeDuplicate(Conflict):
    code = "guarantee_duplicate"


class FileMessageConflict(Conflict):
    """The same bank message id arrives with other content: a person must look, nothing is overwritten."""

    code = "file_message_conflict"


class FileTooLarge(Invalid):
    status = 413
    code = "file_too_large"


class FlagDecisionInvalid(Invalid):
    code = "flag_decision_invalid"


class RateInvalid(Invalid):
    code = "rate_invalid"


class DepositRetained(Conflict):
    code = "deposit_retained"


class RetentionNotAllowed(Conflict):
    code = "retention_not_allowed"


class RefundNotPossible(Conflict):
    code = "refund_not_possible"


class DepositConfidential(Forbidden):
    code = "deposit_confidential"
