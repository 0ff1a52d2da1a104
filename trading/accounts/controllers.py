from __future__ import annotations

from uuid import UUID

import asyncpg
from litestar import Controller, Response, get, post
from litestar.datastructures import Cookie
from litestar.params import Parameter

from trading.accounts import repository as repo
from trading.accounts import services
from trading.accounts.errors import LoginFailed
from trading.accounts.guards import PUBLIC, TOKEN_COOKIE, admin_only, requires, signed_in
from trading.accounts.schemas import Login, Organisation, OrganisationCreate, Role, Token, User, UserCreate
from trading.clock import Clock
from trading.errors import domain_error_handler
from trading.settings import Settings


class AuthController(Controller):
    path = "/api/auth"
    tags = ["accounts"]

    @post("/login", opt=PUBLIC, operation_id="Login", status_code=200)
    async def login(self, conn: asyncpg.Connection, clock: Clock, settings: Settings, addr: str | None,
                    data: Login) -> Response[Token]:
        try:
            token = await services.login(conn, clock, data.username, data.password,
                                         ttl_hours=settings.token_ttl_hours, addr=addr)
        except LoginFailed as exc:
            # Answered, not raised: the failed-login witness entry must commit.
            return domain_error_handler(None, exc)  # type: ignore[arg-type]
        return Response(token, cookies=[Cookie(key=TOKEN_COOKIE, value=token.token, httponly=True,
                                               samesite="strict", expires=int(token.expires_at.timestamp()))])

    @post("/logout", guards=[signed_in], operation_id="Logout", status_code=200)
    async def logout(self, conn: asyncpg.Connection, clock: Clock, request_token: str) -> Response[dict]:
        await services.logout(conn, clock, request_token)
        return Response({"status": "signed out"}, cookies=[Cookie(key=TOKEN_COOKIE, value="", max_age=0)])

    @get("/me", guards=[signed_in], operation_id="Me")
    async def me(self, user: User) -> User:
        return user


class OrganisationController(Controller):
    path = "/api/organisations"
    tags = ["accounts"]

    @post("/", opt=PUBLIC, operation_id="RegisterOrganisation")
    async def register(self, conn: asyncpg.Connection, clock: Clock, settings: Settings, addr: str | None,
                       data: OrganisationCreate) -> Organisation:
        """Any organisation may apply; an administrator approves it before it acts on the platform."""
        return await services.register_organisation(conn, clock, data, actor=None, addr=addr,
                                                    operator_codes=settings.operator_credit_codes)

    @get("/", guards=[requires(Role.ADMIN, Role.REGULATOR, Role.AGENCY)], operation_id="ListOrganisations")
    async def list_organisations(self, conn: asyncpg.Connection,
                                 kind: str | None = Parameter(default=None)) -> list[Organisation]:
        return await repo.list_organisations(conn, kind=kind)

    @get("/{org_id:uuid}", guards=[signed_in], operation_id="GetOrganisation")
    async def get_organisation(self, conn: asyncpg.Connection, org_id: UUID) -> Organisation:
        return await repo.get_organisation(conn, org_id)

    @post("/{org_id:uuid}/approve", guards=[admin_only], operation_id="ApproveOrganisation", status_code=200)
    async def approve(self, conn: asyncpg.Connection, clock: Clock, settings: Settings, user: User,
                      addr: str | None, org_id: UUID) -> Organisation:
        return await services.approve_organisation(conn, clock, org_id, actor=user, addr=addr,
                                                   operator_codes=settings.operator_credit_codes)


class UserController(Controller):
    path = "/api/users"
    tags = ["accounts"]

    @post("/", guards=[admin_only], operation_id="CreateUser")
    async def create_user(self, conn: asyncpg.Connection, clock: Clock, user: User, addr: str | None,
                          data: UserCreate) -> User:
        return await services.create_user(conn, clock, data, actor=user, addr=addr)

    @get("/{user_id:uuid}", guards=[requires(Role.ADMIN, Role.REGULATOR)], operation_id="GetUser")
    async def get_user(self, conn: asyncpg.Connection, user_id: UUID) -> User:
        return await repo.get_user(conn, user_id)
