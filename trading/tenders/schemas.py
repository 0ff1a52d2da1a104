"""Shapes of the tenders package. Inputs forbid unknown fields; amounts in the API are yuan strings."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

import msgspec

Regime = Literal["bidding_law", "gov_procurement"]
ProcurementType = Literal["works", "goods", "services"]
EvaluationMethod = Literal["comprehensive", "lowest_price"]

LOT_STATUSES = ("draft", "published", "closed", "opening", "evaluation", "publicity", "awarded", "failed",
                "cancelled")


class Lot(msgspec.Struct, kw_only=True):
    """A lot (标段) with every column of `lots` plus what callers need of its tender.

    `status` is the lot's STORED status; use `effective_status(now)` (or lifecycle.effective_lot_status) for the
    status derived from the clock ('published' reads as 'closed' once the deadline has passed).
    `tender_status` is the tender's own status (draft | published | cancelled).
    """

    id: UUID
    tender_id: UUID
    number: int
    name: str
    estimated_price_fen: int
    max_price_fen: int | None
    deposit_fen: int
    evaluation_method: str
    bid_fields: list[dict[str, Any]]
    custodian_k: int
    custodian_n: int
    post_quantum: bool
    status: str
    status_reason: str | None
    ceremony_hash: bytes | None
    ceremony_record: bytes | None
    # of the tender
    tender_code: str
    tender_title: str
    regime: str
    must_tender: bool
    procurement_type: str
    tender_status: str
    reference_price_fen: int | None = None  # 标底: never in a public view before the opening
    suspended: bool
    regulator_suspended: bool = False  # the supervising authority's order (0205), apart from `suspended`
    regulator_suspended_until: datetime | None = None  # when that order lapses by law (0206); see under_order
    tenderer_org_id: UUID
    agency_org_id: UUID
    docs_from: datetime
    docs_until: datetime
    clarification_deadline: datetime
    bid_deadline: datetime
    publish_at: datetime | None
    version: int

    def effective_status(self, now: datetime) -> str:
        from trading.tenders.lifecycle import effective_lot_status

        return effective_lot_status(self.status, self.bid_deadline, now)


class Tender(msgspec.Struct, kw_only=True):
    id: UUID
    code: str
    title: str
    description: str
    regime: str
    must_tender: bool
    procurement_type: str
    region: str
    tenderer_org_id: UUID
    agency_org_id: UUID
    status: str
    cancel_reason: str | None
    publish_at: datetime | None
    docs_from: datetime
    docs_until: datetime
    clarification_deadline: datetime
    bid_deadline: datetime
    suspended: bool
    version: int
    created_by: UUID | None
    created_at: datetime
    updated_at: datetime
    regulator_suspended: bool = False  # the supervising authority's order (0205), apart from `suspended`
    regulator_suspended_until: datetime | None = None  # when that order lapses by law (0206); see under_order


def under_order(x: "Lot | Tender", now: datetime) -> bool:
    """Whether the supervising authority's order to suspend stops the tender at `now`: it stands until lifted,
    or until the instant the law ends it (政府采购法 第五十七条: 30 days at most), whichever comes first."""
    return x.regulator_suspended and (x.regulator_suspended_until is None or now < x.regulator_suspended_until)


class Custodian(msgspec.Struct, kw_only=True):
    lot_id: UUID
    custodian_id: UUID
    x: int
    suite: str | None
    hpke_public_key: bytes | None
    signature: bytes | None
    registered_at: datetime | None


class Document(msgspec.Struct, kw_only=True):
    id: UUID
    tender_id: UUID
    lot_id: UUID | None
    version: int
    filename: str
    content_type: str
    sha256: str
    size: int
    created_at: datetime


class Download(msgspec.Struct, kw_only=True):
    lot_id: UUID
    org_id: UUID
    org_name: str
    credit_code: str
    user_id: UUID
    first_at: datetime
    last_at: datetime
    count: int


class Objection(msgspec.Struct, kw_only=True):
    id: UUID
    tender_id: UUID
    lot_id: UUID | None
    org_id: UUID | None  # hidden (None) from the agency before the deadline: 招标投标法 第二十二条
    content: str
    filed_at: datetime
    answer: str | None
    answered_at: datetime | None
    # 24:00 Asia/Shanghai of the last day to answer (条例 第二十二条: 3 days; 政府采购法 第五十三条: 7 working days).
    answer_due: datetime
    # When the platform logged the objection as unanswered past answer_due (tender:objection:overdue), if it did.
    overdue_at: datetime | None = None


class OverdueObjection(msgspec.Struct, kw_only=True):
    """An objection unanswered past its due time, for the regulators' overview."""
    id: UUID
    tender_id: UUID
    tender_title: str
    filed_at: datetime
    answer_due: datetime
    overdue_at: datetime | None


class Version(msgspec.Struct, kw_only=True):
    version: int
    kind: str
    summary: str
    snapshot: dict[str, Any]
    created_at: datetime


# ---------------------------------------------------------------- inputs

class BidField(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: str
    label: str
    type: Literal["int", "decimal", "text", "bool", "yuan"] = "text"
    required: bool = True


class LotCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: str
    estimated_price: str                      # yuan, e.g. "1000000.00"
    deposit: str = "0"                        # yuan
    max_price: str | None = None              # 最高投标限价 (disclosed)
    reference_price: str | None = None        # 标底: secret until the opening, announced there (条例 第五十条)
    evaluation_method: EvaluationMethod = "comprehensive"
    bid_fields: list[BidField] = []
    custodian_k: int = 2
    custodian_n: int = 3
    post_quantum: bool = False
    # Accepted only to be refused by name: 招标投标法实施条例 第二十七条 forbids a minimum price.
    min_price: Any = msgspec.UNSET
    minimum_price: Any = msgspec.UNSET


class TenderCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    code: str
    title: str
    description: str = ""
    regime: Regime = "bidding_law"
    must_tender: bool = True
    procurement_type: ProcurementType
    region: str
    tenderer_org_id: UUID
    docs_from: datetime
    docs_until: datetime
    clarification_deadline: datetime
    bid_deadline: datetime
    lots: list[LotCreate]
    min_price: Any = msgspec.UNSET
    minimum_price: Any = msgspec.UNSET


class AmendmentCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """澄清/修改. Unset fields stay as they are; documents uploaded since the last version are issued with it."""

    kind: Literal["amend", "clarify"] = "amend"
    summary: str
    # 招标投标法实施条例 第二十一条: only changes that may affect bid preparation need the 15-day margin;
    # the agency states it, the statement is kept in the version and the log.
    affects_bid_preparation: bool = True
    title: str | msgspec.UnsetType = msgspec.UNSET
    description: str | msgspec.UnsetType = msgspec.UNSET
    docs_until: datetime | msgspec.UnsetType = msgspec.UNSET
    clarification_deadline: datetime | msgspec.UnsetType = msgspec.UNSET
    bid_deadline: datetime | msgspec.UnsetType = msgspec.UNSET
    min_price: Any = msgspec.UNSET
    minimum_price: Any = msgspec.UNSET


class CustodianAssign(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    custodian_ids: list[UUID]


class Cancellation(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: str


class LotTransition(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    to: str
    reason: str | None = None


class ObjectionCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    content: str
    lot_id: UUID | None = None


class ObjectionAnswer(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    answer: str


# ---------------------------------------------------------------- outputs (amounts in yuan, with capitals)

class LotView(msgspec.Struct, kw_only=True):
    id: UUID
    number: int
    name: str
    estimated_price: str
    estimated_price_capital: str
    max_price: str | None
    max_price_capital: str | None
    deposit: str
    deposit_capital: str
    evaluation_method: str
    bid_fields: list[dict[str, Any]]
    custodian_k: int
    custodian_n: int
    post_quantum: bool
    status: str                      # effective (derived from the clock)
    status_reason: str | None
    ceremony_hash: str | None


class DocumentView(msgspec.Struct, kw_only=True):
    id: UUID
    lot_id: UUID | None
    version: int
    filename: str
    content_type: str
    sha256: str
    size: int


class VersionView(msgspec.Struct, kw_only=True):
    version: int
    kind: str
    summary: str
    bid_deadline: datetime | None
    created_at: datetime


class TenderView(msgspec.Struct, kw_only=True):
    id: UUID
    code: str
    title: str
    description: str
    regime: str
    must_tender: bool
    procurement_type: str
    region: str
    tenderer_org_id: UUID
    tenderer_name: str
    agency_org_id: UUID
    agency_name: str
    status: str                      # draft | open | closed | cancelled (public status)
    cancel_reason: str | None
    suspended: bool
    publish_at: datetime | None
    docs_from: datetime
    docs_until: datetime
    clarification_deadline: datetime
    bid_deadline: datetime
    version: int
    lots: list[LotView]
    documents: list[DocumentView]
    history: list[VersionView]


class TenderSummary(msgspec.Struct, kw_only=True):
    id: UUID
    code: str
    title: str
    regime: str
    procurement_type: str
    region: str
    status: str
    publish_at: datetime | None
    bid_deadline: datetime
    lot_count: int
    estimated_total: str


class TenderPage(msgspec.Struct, kw_only=True):
    items: list[TenderSummary]
    total: int
    page: int
    page_size: int
    pages: int


class Notice(msgspec.Struct, kw_only=True):
    """An amendment/clarification/cancellation sent to an organisation that obtained the documents."""

    tender_id: UUID
    code: str
    title: str
    version: int
    kind: str
    summary: str
    created_at: datetime
    bid_deadline: datetime


class AgencyTenderItem(msgspec.Struct, kw_only=True):
    id: UUID
    code: str
    title: str
    procurement_type: str
    region: str
    status: str
    publish_at: datetime | None
    bid_deadline: datetime


class LotUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    id: UUID
    name: str | msgspec.UnsetType = msgspec.UNSET
    estimated_price: str | msgspec.UnsetType = msgspec.UNSET
    deposit: str | msgspec.UnsetType = msgspec.UNSET
    max_price: str | None | msgspec.UnsetType = msgspec.UNSET
    evaluation_method: EvaluationMethod | msgspec.UnsetType = msgspec.UNSET
    min_price: Any = msgspec.UNSET
    minimum_price: Any = msgspec.UNSET


class TenderUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Edit a draft (unset fields stay). A published tender changes only by amendment."""

    title: str | msgspec.UnsetType = msgspec.UNSET
    description: str | msgspec.UnsetType = msgspec.UNSET
    region: str | msgspec.UnsetType = msgspec.UNSET
    docs_from: datetime | msgspec.UnsetType = msgspec.UNSET
    docs_until: datetime | msgspec.UnsetType = msgspec.UNSET
    clarification_deadline: datetime | msgspec.UnsetType = msgspec.UNSET
    bid_deadline: datetime | msgspec.UnsetType = msgspec.UNSET
    lots: list[LotUpdate] = []
    min_price: Any = msgspec.UNSET
    minimum_price: Any = msgspec.UNSET
