"""Shapes of evaluation and award. Inputs forbid unknown fields; points and weights travel as decimal strings,
amounts as yuan strings."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

import msgspec


class ItemIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    id: str
    name: str
    group: Literal["technical", "commercial"]
    max_points: str
    guidance: str = ""


class CriterionIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    id: str
    name: str
    reason_code: str


class SchemeIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    items: list[ItemIn] = []
    criteria: list[CriterionIn] = []
    technical_weight: str = "0"
    commercial_weight: str = "0"
    price_weight: str = "0"
    outlier_share: str = "0.30"
    comment_below_share: str = "0.60"
    publicity_days: int = 3


class SchemeOut(msgspec.Struct, kw_only=True):
    lot_id: UUID
    method: str
    items: list[dict[str, Any]]
    criteria: list[dict[str, Any]]
    technical_weight: str
    commercial_weight: str
    price_weight: str
    outlier_share: str
    comment_below_share: str
    publicity_days: int
    scheme_sha256: str


class DeclarationIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    conflict: bool
    statement: str = ""


class ScoreIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    bid_id: UUID
    item_id: str
    points: str
    comment: str = ""


class MarkIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    bid_id: UUID
    criterion_id: str
    passed: bool
    comment: str = ""


class SheetIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    scores: list[ScoreIn] = []
    marks: list[MarkIn] = []


class ChairVoteIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    expert_id: UUID


class ReplaceIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    expert_id: UUID
    reason: str


class FlagAnswerIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    action: Literal["confirm", "revise"]
    reason: str
    new_points: str | None = None


class CorrectionIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    bid_id: UUID
    item_id: str
    new_points: str
    reason_code: Literal["adding_error", "out_of_range", "objective_inconsistent", "extreme"]
    reason: str


class RejectIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: str


class ConfirmIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    agrees: bool
    dissent: str | None = None


class PublicityIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    contact: str
    days: int | None = None


class ObjectionIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    content: str


class ObjectionAnswerIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    answer: str
    upheld: bool = False


class AwardIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    winner_bid_id: UUID | None = None
    reason: str | None = None


class Member(msgspec.Struct, kw_only=True):
    lot_id: UUID
    expert_id: UUID
    user_id: UUID
    name: str
    status: str
    joined_at: datetime
    replaced_at: datetime | None = None
    replaced_reason: str | None = None
    replaced_by: UUID | None = None
    chair_vote: UUID | None = None


class Evaluation(msgspec.Struct, kw_only=True):
    lot_id: UUID
    tender_id: UUID
    method: str
    status: str
    chair_expert_id: UUID | None
    committee_size: int
    bids_hash: str
    started_by: UUID
    started_at: datetime
    revealed_at: datetime | None
    reject_reason: str | None
    time_limit: datetime | None = None
    time_round: int = 0


class Flag(msgspec.Struct, kw_only=True):
    id: UUID
    lot_id: UUID
    expert_id: UUID
    bid_id: UUID
    item_id: str
    points: str
    others_mean: str
    max_points: str
    status: str
    new_points: str | None
    answer: str | None
    answered_at: datetime | None
    flagged_at: datetime


class ResultRow(msgspec.Struct, kw_only=True):
    bid_id: UUID
    bidder_name: str
    price_fen: int
    valid: bool
    failures: list[dict[str, Any]]
    price_score: str | None
    technical: str | None
    commercial: str | None
    total: str | None
    rank: int | None
    tied: bool


class Publicity(msgspec.Struct, kw_only=True):
    lot_id: UUID
    candidates: list[dict[str, Any]]
    starts_at: datetime
    ends_at: datetime
    contact: str


class AwardObjection(msgspec.Struct, kw_only=True):
    id: UUID
    lot_id: UUID
    org_id: UUID
    user_id: UUID
    content: str
    filed_at: datetime
    answer: str | None
    upheld: bool | None
    answered_by: UUID | None
    answered_at: datetime | None
    answer_due: datetime       # 24:00 Asia/Shanghai of the last day to answer (条例 第五十四条: 3 days)
    overdue_at: datetime | None = None


class OverdueAwardObjection(msgspec.Struct, kw_only=True):
    id: UUID
    lot_id: UUID
    tender_id: UUID
    tender_title: str
    filed_at: datetime
    answer_due: datetime
    overdue_at: datetime | None


class Notice(msgspec.Struct, kw_only=True):
    lot_id: UUID
    bid_id: UUID
    org_id: UUID
    kind: str
    rank: int | None
    pdf_sha256: str
    issued_at: datetime
    reason: str | None
    award_round: int = 1
    superseded_at: datetime | None = None


class RescindIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The winner loses the award before the contract (招标投标法实施条例 第五十五条; 政府采购法实施条例 第四十九条;
    政府采购质疑和投诉办法 第十六条): whose award (the winner's bid, so a repeated or stale request cannot rescind the
    next winner's too), why, in words, and what follows — the next candidate in rank order or a new tender. The
    causes open to each regime are in evaluation/rescission.py (CAUSES)."""
    bid_id: UUID
    cause: Literal["gave_up", "force_majeure", "no_performance_bond", "unlawful", "challenge_upheld"]
    reason: str
    outcome: Literal["next_candidate", "retender"]


class Rescission(msgspec.Struct, kw_only=True):
    lot_id: UUID
    award_round: int
    bid_id: UUID
    org_id: UUID
    cause: str
    reason: str
    outcome: str
    next_bid_id: UUID | None
    next_rank: int | None
    decided_by: UUID
    decided_at: datetime


class WinnerDecisionIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The purchaser determines the winner of a government-procurement lot (87号令 第六十八条): rank 1 when
    winner_bid_id is omitted; a lower candidate only with a reason."""
    winner_bid_id: UUID | None = None
    reason: str | None = None


class Determination(msgspec.Struct, kw_only=True):
    """A government-procurement lot's way from the signed report to the result announcement (87号令 第六十八、六十九条)."""
    lot_id: UUID
    candidates: list[dict[str, Any]]
    report_pdf_sha256: str
    evaluated_at: datetime
    sent_by: UUID
    sent_at: datetime
    send_due: datetime
    sent_late: bool
    decision_due: datetime
    how: Literal["decided", "deemed"] | None = None
    winner_bid_id: UUID | None = None
    winner_rank: int | None = None
    reason: str | None = None
    decided_by: UUID | None = None
    decided_at: datetime | None = None
    award_due: datetime | None = None
    announced_at: datetime | None = None
    announcement_ends_at: datetime | None = None
    challenge_due: datetime | None = None


class TimeLimitIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Set or extend the evaluation time (招标投标法实施条例 第四十八条): only ever later."""
    until: datetime
    reason: str = ""


class TimeRequestIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A member's statement that the evaluation time is not enough (条例 第四十八条第二款)."""
    reason: str


class TimeStatus(msgspec.Struct, kw_only=True):
    time_limit: datetime | None
    requests: int            # members who said, since the limit was last set, that the time is not enough
    committee_size: int
    needed: int              # more than a third of the committee: the agency must extend
    extension_due: bool      # while true the limit does not bind
    open: bool               # whether scoring is possible now as far as time goes


class ContractIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The signed contract, recorded by the agency (招标投标法 第四十六条). Amounts: exact decimal strings in yuan."""
    signed_at: datetime
    price_yuan: str
    performance_bond_yuan: str = "0"


class Contract(msgspec.Struct, kw_only=True):
    lot_id: UUID
    bid_id: UUID
    org_id: UUID
    price_fen: int
    performance_bond_fen: int
    signed_at: datetime
    due_at: datetime          # 24:00 Asia/Shanghai of the 30th day after the award notice
    late: bool
    recorded_at: datetime


class OverdueDuty(msgspec.Struct, kw_only=True):
    """An award whose contract or supervisor report is not in by its due time."""
    duty: str                 # contract | supervisor_report
    lot_id: UUID
    tender_id: UUID
    tender_title: str
    winner_org_id: UUID
    notice_at: datetime
    due_at: datetime


class ReviewIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """复核: the committee evaluates again after an objection to the result was upheld (条例 第五十四条)."""
    reason: str


class ClarificationIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The committee's written request to a bidder (招标投标法实施条例 第五十二条)."""
    bid_id: UUID
    question: str


class ClarificationAnswerIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    answer: str


class Clarification(msgspec.Struct, kw_only=True):
    id: UUID
    lot_id: UUID
    bid_id: UUID
    org_id: UUID
    question: str
    asked_at: datetime
    answer: str | None
    answered_at: datetime | None


class PriceCorrectionIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """报价修正 (87号令 第五十九条; 评标规定 第十九条): the committee's corrected price, by one of the fixed rules."""
    bid_id: UUID
    rule: str                       # words_over_figures | unit_prices_over_total
    corrected_price_yuan: str       # exact decimal yuan, e.g. "1234567.80"
    explanation: str


class PriceCorrectionDecisionIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    confirm: bool                   # False: the bidder does not confirm, and its bid is invalid


class PriceCorrection(msgspec.Struct, kw_only=True):
    id: UUID
    lot_id: UUID
    bid_id: UUID
    org_id: UUID
    rule: str
    explanation: str
    opened_price_yuan: str
    corrected_price_yuan: str
    proposed_at: datetime
    decision: str | None            # None (awaiting the bidder), confirmed, refused
    decided_at: datetime | None
