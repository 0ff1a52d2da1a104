"""Structs of complaints (msgspec)."""
from __future__ import annotations

from datetime import date, datetime
from typing import Literal
from uuid import UUID

import msgspec

Matter = Literal["tender_documents", "opening", "candidates", "other"]


class ComplaintIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    tender_id: UUID
    lot_id: UUID | None = None
    matter: Matter
    # The prior 异议 / 质疑 of the same organisation at that stage (tender_objections, opening_objections or
    # award_objections, by matter); not needed for `other` under the Bidding Law.
    objection_id: UUID | None = None
    request: str = ""            # 明确的请求
    grounds: str = ""            # 事实和证明材料
    known_on: date | None = None  # `other` only: the day the complainant knew or should have known


class ComplaintReviewIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: str | None = None    # required to refuse


class ComplaintSuspendIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: str = ""


class ComplaintWithdrawIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: str = ""             # 撤回理由 (in writing, with reasons)


class WithdrawalDecisionIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    allow: bool
    reason: str = ""             # required to refuse: the clear violation found


class ComplaintDecisionIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    outcome: Literal["upheld", "dismissed"]
    text: str = ""               # the written decision (书面处理决定)


class Evidence(msgspec.Struct, kw_only=True):
    """A file of 证明材料; fetched at /api/complaints/{complaint}/evidence/{sha256}."""
    id: UUID
    filename: str
    content_type: str
    sha256: str
    size: int
    added_at: datetime


class Complaint(msgspec.Struct, kw_only=True):
    id: UUID
    tender_id: UUID
    tender_code: str
    tender_title: str
    bid_deadline: datetime
    lot_id: UUID | None
    regime: str
    org_id: UUID | None          # None for the agency/tenderer before the bid deadline (招标投标法 第二十二条)
    org_name: str | None
    matter: str
    objection_id: UUID | None
    request: str
    grounds: str
    known_on: date
    last_day: date
    filed_at: datetime
    accept_due: datetime
    status: str                  # filed | accepted | refused | decided | withdrawn
    reviewed_at: datetime | None
    reviewed_late: bool | None
    refuse_reason: str | None
    decision_due: datetime | None
    decision: str | None
    decision_text: str | None
    decided_at: datetime | None
    decided_late: bool | None
    suspended_at: datetime | None
    suspend_reason: str | None
    # government procurement: when the order lapses by law (30 days from the complaint's first order)
    suspension_ends_at: datetime | None = None
    first_suspended_at: datetime | None = None     # the complaint's first order: the 30 days count from it
    withdraw_requested_at: datetime | None = None  # Bidding Law, after acceptance: waiting for the authority
    withdraw_reason: str | None = None
    withdraw_refused_at: datetime | None = None
    withdraw_refuse_reason: str | None = None
    withdrawn_at: datetime | None = None
    overdue: str | None = None   # "accept" | "decision" while the regulator's act is past due (by the clock)
    evidence: list[Evidence] = []
