"""All SQL of the accounts package."""
from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg
import msgspec

from trading.accounts.errors import OrganisationNotFound, UserNotFound
from trading.accounts.schemas import Organisation, User

_USER_COLS = "id, org_id, username, display_name, roles, active, created_at"
_ORG_COLS = "id, name, kind, credit_code, legal_representative, approved, created_at, controller_credit_code"


def _user(row: asyncpg.Record) -> User:
    return msgspec.convert(dict(row), User)


def _org(row: asyncpg.Record) -> Organisation:
    return msgspec.convert(dict(row), Organisation)


async def insert_organisation(conn, *, name, kind, credit_code, legal_representative, approved, now,
                              controller_credit_code=None) -> Organisation:
    row = await conn.fetchrow(
        f"INSERT INTO organisations (name, kind, credit_code, legal_representative, approved, created_at,"
        f" controller_credit_code) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {_ORG_COLS}",
        name, kind, credit_code, legal_representative, approved, now, controller_credit_code,
    )
    return _org(row)


async def get_organisations(conn, org_ids) -> list[Organisation]:
    rows = await conn.fetch(f"SELECT {_ORG_COLS} FROM organisations WHERE id = ANY($1::uuid[]) ORDER BY id",
                            list(org_ids))
    return [_org(r) for r in rows]


async def find_organisation_by_credit_code(conn, credit_code: str) -> Organisation | None:
    row = await conn.fetchrow(f"SELECT {_ORG_COLS} FROM organisations WHERE credit_code = $1", credit_code)
    return _org(row) if row else None


async def get_organisation(conn, org_id: UUID) -> Organisation:
    row = await conn.fetchrow(f"SELECT {_ORG_COLS} FROM organisations WHERE id = $1", org_id)
    if row is None:
        raise OrganisationNotFound(f"organisation {org_id} not found")
    return _org(row)


async def list_organisations(conn, *, kind: str | None = None) -> list[Organisation]:
    rows = await conn.fetch(
        f"SELECT {_ORG_COLS} FROM organisations WHERE $1::text IS NULL OR kind = $1 ORDER BY created_at, name",
        kind,
    )
    return [_org(r) for r in rows]


async def set_organisation_approved(conn, org_id: UUID) -> Organisation:
    row = await conn.fetchrow(
        f"UPDATE organisations SET approved = true WHERE id = $1 RETURNING {_ORG_COLS}", org_id
    )
    if row is None:
        raise OrganisationNotFound(f"organisation {org_id} not found")
    return _org(row)


async def insert_user(conn, *, username, display_name, password_hash, roles, org_id, now) -> User:
    row = await conn.fetchrow(
        f"INSERT INTO users (username, display_name, password_hash, roles, org_id, created_at)"
        f" VALUES ($1, $2, $3, $4, $5, $6) RETURNING {_USER_COLS}",
        username, display_name, password_hash, [str(r) for r in roles], org_id, now,
    )
    return _user(row)


async def find_user_by_username(conn, username: str) -> tuple[User, str] | None:
    # case-insensitive, as the unique index users_username_ci_idx
    row = await conn.fetchrow(f"SELECT {_USER_COLS}, password_hash FROM users WHERE lower(username) = lower($1)",
                              username)
    if row is None:
        return None
    d = dict(row)
    pw = d.pop("password_hash")
    return msgspec.convert(d, User), pw


async def get_user(conn, user_id: UUID) -> User:
    row = await conn.fetchrow(f"SELECT {_USER_COLS} FROM users WHERE id = $1", user_id)
    if row is None:
        raise UserNotFound(f"user {user_id} not found")
    return _user(row)


async def update_password_hash(conn, user_id: UUID, password_hash: str) -> None:
    await conn.execute("UPDATE users SET password_hash = $2 WHERE id = $1", user_id, password_hash)


async def insert_token(conn, *, token_hash: bytes, user_id: UUID, now: datetime, expires_at: datetime, addr) -> None:
    await conn.execute(
        "INSERT INTO auth_tokens (token_hash, user_id, created_at, expires_at, addr) VALUES ($1, $2, $3, $4, $5)",
        token_hash, user_id, now, expires_at, addr,
    )


async def find_user_by_token(conn, token_hash: bytes, now: datetime) -> User | None:
    row = await conn.fetchrow(
        f"SELECT {', '.join('u.' + c.strip() for c in _USER_COLS.split(','))} FROM auth_tokens t"
        " JOIN users u ON u.id = t.user_id"
        " WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND t.expires_at > $2 AND u.active",
        token_hash, now,
    )
    return _user(row) if row else None


async def revoke_token(conn, token_hash: bytes, now: datetime) -> None:
    await conn.execute(
        "UPDATE auth_tokens SET revoked_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL", token_hash, now
    )
