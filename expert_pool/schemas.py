from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from uuid import UUID

import msgspec

# Times from clients must carry their offset (e.g. +08:00): a naive time is ambiguous.
AwareDatetime = Annotated[datetime, msgspec.Meta(tz=True)]


class FormerEmployer(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    org_name: str
    credit_code: str
    ended_on: date


class ExpertApply(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    full_name: str
    id_number: str
    birth_date: date
    employer_name: str
    employer_credit_code: str
    former_employers: list[FormerEmployer] = []
    title: str
    title_level: str
    practice_since: date
    specialties: list[str]
    region: str
    phone: str
    email: str | None = None


class Expert(msgspec.Struct, kw_only=True):
    id: UUID
    user_id: UUID
    full_name: str
    birth_date: date
    employer_name: str
    employer_credit_code: str
    title: str
    title_level: str
    practice_since: date
    region: str
    phone: str
    email: str | None
    status: str
    status_reason: str | None
    applied_at: datetime
    reviewed_at: datetime | None
    specialties: list[str] = []
    former_employers: list[FormerEmployer] = []


class Review(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: str = ""


class StatusChange(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: str


class Unavailability(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    add: list[date] = []
    remove: list[date] = []


class ConflictDeclare(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    credit_code: str
    reason: str


class QuotaRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    specialty: str
    count: int


class DrawRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    lot_id: UUID
    size: int
    quotas: list[QuotaRequest]
    evaluation_at: AwareDatetime
    tenderer_representatives: int = 0
    alternates: int = 2


class DrawContribution(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    agency_value: str


class QuotaProgress(msgspec.Struct, kw_only=True):
    specialty: str
    specialty_name: str
    count: int
    eligible: int
    eligible_hash: str
    invited: int
    confirmed: int
    declined: int
    timed_out: int
    alternates_left: int


class DrawMemberView(msgspec.Struct, kw_only=True):
    """A committee position; names only for those allowed to see them (regulators, the expert, after start)."""

    member_id: UUID
    quota: int
    status: str
    step: int
    expert_id: UUID | None = None
    name: str | None = None
    respond_by: datetime | None = None


class DrawView(msgspec.Struct, kw_only=True):
    id: UUID
    lot_id: UUID
    tender_id: UUID
    status: str
    size: int
    tenderer_representatives: int
    alternates: int
    evaluation_at: datetime
    created_at: datetime
    drawn_at: datetime | None
    eligible_hash: str
    server_commit: str
    quotas: list[QuotaProgress]
    exclusions: dict[str, int]           # counts by reason (the names are for regulators: DRAW.json)
    confirmed: int
    needed: int
    names_visible: bool
    agency_value: str | None = None
    server_secret: str | None = None     # revealed once the agency contributed
    checkpoint_root: str | None = None
    checkpoint_size: int | None = None
    seed: str | None = None
    members: list[DrawMemberView] = []


class DrawSummary(msgspec.Struct, kw_only=True):
    id: UUID
    lot_id: UUID
    tender_code: str
    tender_title: str
    lot_name: str
    status: str
    created_at: datetime
    drawn_at: datetime | None
    confirmed: int
    needed: int


class Invitation(msgspec.Struct, kw_only=True):
    member_id: UUID
    draw_id: UUID
    lot_id: UUID
    tender_code: str
    tender_title: str
    lot_name: str
    specialty: str
    evaluation_at: datetime
    status: str
    invited_at: datetime | None
    respond_by: datetime | None
    responded_at: datetime | None


class Decline(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: str
    conflict: bool = False


class Member(msgspec.Struct, kw_only=True):
    """A confirmed committee member, for the evaluation package."""

    member_id: UUID
    expert_id: UUID
    user_id: UUID
    name: str
    specialty: str
    confirmed: bool
    role: str            # technical | economic (招标投标法 第三十七条)
    quota: int


class Notification(msgspec.Struct, kw_only=True):
    id: UUID
    expert_id: UUID
    user_id: UUID
    member_id: UUID | None
    kind: str
    payload: dict
    created_at: datetime
    sent_at: datetime | None
    channel: str | None
