"""The rules of accounts: organisations, users, login. Services take the connection first and never commit."""
from __future__ import annotations

import hashlib
import secrets
import unicodedata
from collections.abc import Collection
from datetime import timedelta
from uuid import UUID

import asyncpg

from trading.accounts import repository as repo
from trading.accounts.credit_code import credit_code_problem
from trading.accounts.errors import (
    CreditCodeInvalid,
    LoginFailed,
    OperatorMayNotBid,
    OrganisationExists,
    PasswordTooWeak,
    UsernameTaken,
)
from trading.accounts.passwords import hash_password, needs_rehash, verify_password
from trading.accounts.schemas import Organisation, OrganisationCreate, Role, Token, User, UserCreate
from trading.clock import Clock
from trading.errors import Invalid
from trading.records import Tag, append_entry

PRIVILEGED = {Role.ADMIN, Role.REGULATOR, Role.CUSTODIAN, Role.AGENCY}
MIN_PASSWORD = 10


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _clean(text: str, field: str, max_len: int = 200) -> str:
    text = unicodedata.normalize("NFC", text).strip()
    if not text or len(text) > max_len:
        raise Invalid(f"{field} must be 1 to {max_len} characters", field=field)
    return text


def _check_not_operator(kind: str, credit_code: str, controller: str | None, operator_codes: Collection[str]) -> None:
    """电子招标投标办法 第二十三条: 电子招标投标交易平台的运营机构及其关联方不得在该平台进行投标."""
    if kind == "bidder" and (credit_code in operator_codes or (controller and controller in operator_codes)):
        raise OperatorMayNotBid("the platform's operator and its affiliates may not bid on this platform"
                                " (电子招标投标办法 第二十三条)")


async def register_organisation(
    conn: asyncpg.Connection, clock: Clock, data: OrganisationCreate, *, actor: User | None, approved: bool = False,
    addr: str | None = None, operator_codes: Collection[str] = (),
) -> Organisation:
    code = data.credit_code.strip().upper()
    problem = credit_code_problem(code)
    if problem:
        raise CreditCodeInvalid(problem, field="credit_code")
    if await repo.find_organisation_by_credit_code(conn, code):
        raise OrganisationExists(f"an organisation with credit code {code} is already registered")
    controller = data.controller_credit_code.strip().upper() if data.controller_credit_code else None
    if controller:
        problem = credit_code_problem(controller)
        if problem:
            raise CreditCodeInvalid(f"controller: {problem}", field="controller_credit_code")
        if controller == code:
            raise CreditCodeInvalid("an organisation does not control itself", field="controller_credit_code")
    _check_not_operator(str(data.kind), code, controller, operator_codes)
    org = await repo.insert_organisation(
        conn, name=_clean(data.name, "name"), kind=str(data.kind), credit_code=code,
        legal_representative=_clean(data.legal_representative, "legal_representative", 100)
        if data.legal_representative else None,
        approved=approved, now=clock.now(), controller_credit_code=controller,
    )
    await append_entry(conn, clock, Tag.ACCOUNT_ORG_REGISTER, actor=str(actor.id) if actor else None, addr=addr,
                       body={"org": str(org.id), "kind": org.kind, "credit_code": org.credit_code})
    return org


async def approve_organisation(conn: asyncpg.Connection, clock: Clock, org_id: UUID, *, actor: User,
                               addr: str | None = None, operator_codes: Collection[str] = ()) -> Organisation:
    current = await repo.get_organisation(conn, org_id)
    _check_not_operator(current.kind, current.credit_code, current.controller_credit_code, operator_codes)
    org = await repo.set_organisation_approved(conn, org_id)
    await append_entry(conn, clock, Tag.ACCOUNT_ORG_APPROVE, actor=str(actor.id), addr=addr,
                       body={"org": str(org.id)})
    return org


async def create_user(conn: asyncpg.Connection, clock: Clock, data: UserCreate, *, actor: User | None,
                      addr: str | None = None) -> User:
    if len(data.password) < MIN_PASSWORD:
        raise PasswordTooWeak(f"password must have at least {MIN_PASSWORD} characters", field="password")
    if not data.roles:
        raise Invalid("a user needs at least one role", field="roles")
    if await repo.find_user_by_username(conn, data.username):
        raise UsernameTaken(f"username {data.username!r} is taken")
    if data.org_id is not None:
        await repo.get_organisation(conn, data.org_id)
    try:
        user = await repo.insert_user(
            conn, username=data.username, display_name=_clean(data.display_name, "display_name", 100),
            password_hash=hash_password(data.password), roles=sorted(set(data.roles)), org_id=data.org_id,
            now=clock.now(),
        )
    except asyncpg.CheckViolationError as exc:
        raise Invalid("username must be 3-64 letters, digits or _.@-", field="username") from exc
    except asyncpg.UniqueViolationError as exc:  # the same name (in any case) created concurrently
        raise UsernameTaken(f"username {data.username!r} is taken") from exc
    await append_entry(conn, clock, Tag.ACCOUNT_USER_CREATE, actor=str(actor.id) if actor else None, addr=addr,
                       body={"user": str(user.id), "roles": [str(r) for r in user.roles],
                             "org": str(user.org_id) if user.org_id else None})
    return user


async def login(conn: asyncpg.Connection, clock: Clock, username: str, password: str, *, ttl_hours: int,
                addr: str | None = None) -> Token:
    found = await repo.find_user_by_username(conn, username)
    user, pw_hash = found if found else (None, None)
    if user is None or not user.active or not verify_password(pw_hash, password):
        if user is not None and PRIVILEGED & set(user.roles):
            # A failed login on a privileged account is a security event worth witnessing (电子招标投标办法 第四十九条).
            await append_entry(conn, clock, Tag.ACCOUNT_LOGIN_FAIL, actor=str(user.id), addr=addr,
                               body={"user": str(user.id)})
        raise LoginFailed("wrong username or password")
    if needs_rehash(pw_hash):
        await repo.update_password_hash(conn, user.id, hash_password(password))
    token = secrets.token_urlsafe(32)
    now = clock.now()
    expires = now + timedelta(hours=ttl_hours)
    await repo.insert_token(conn, token_hash=token_hash(token), user_id=user.id, now=now, expires_at=expires,
                            addr=addr)
    return Token(token=token, token_type="bearer", expires_at=expires, user=user)


async def logout(conn: asyncpg.Connection, clock: Clock, token: str) -> None:
    await repo.revoke_token(conn, token_hash(token), clock.now())


async def authenticate(conn: asyncpg.Connection, clock: Clock, token: str) -> User | None:
    return await repo.find_user_by_token(conn, token_hash(token), clock.now())
