from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

import msgspec


class Role(StrEnum):
    ADMIN = "admin"
    AGENCY = "agency"
    BIDDER = "bidder"
    CUSTODIAN = "custodian"
    EXPERT = "expert"
    REGULATOR = "regulator"
    WITNESS = "witness"


class OrgKind(StrEnum):
    TENDERER = "tenderer"
    AGENCY = "agency"
    BIDDER = "bidder"
    BANK = "bank"
    OTHER = "other"


class Organisation(msgspec.Struct, kw_only=True):
    id: UUID
    name: str
    kind: OrgKind
    credit_code: str
    legal_representative: str | None
    approved: bool
    created_at: datetime
    controller_credit_code: str | None = None  # 控股股东或管理单位 (条例 第三十四条)


class OrganisationCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: str
    kind: OrgKind
    credit_code: str
    legal_representative: str | None = None
    # The credit code of the unit that controls or manages this one (控股股东或管理单位), if any.
    controller_credit_code: str | None = None


class User(msgspec.Struct, kw_only=True):
    id: UUID
    org_id: UUID | None
    username: str
    display_name: str
    roles: list[Role]
    active: bool
    created_at: datetime

    def has(self, *roles: Role | str) -> bool:
        return any(r in self.roles for r in roles)


class UserCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    username: str
    display_name: str
    password: str
    roles: list[Role]
    org_id: UUID | None = None


class Login(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    username: str
    password: str


class Token(msgspec.Struct, kw_only=True):
    token: str
    token_type: str
    expires_at: datetime
    user: User
