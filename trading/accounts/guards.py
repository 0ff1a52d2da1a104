"""Who may call what. Every route declares a guard, or `opt={"public": True}` to be on the public list.

The AuthMiddleware resolves a bearer token (header `Authorization: Bearer …`, or the `th_token` cookie that the
pages set) to a user for every request; guards only read `connection.scope["user"]`.
"""
from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from trading.accounts.errors import RoleRequired, TokenInvalid
from trading.accounts.schemas import Role, User
from trading.accounts.services import authenticate

PUBLIC = {"public": True}
TOKEN_COOKIE = "th_token"


def bearer_token(scope: Scope) -> str | None:
    """The request's bearer token: the Authorization header, else the pages' th_token cookie."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            text = value.decode("latin-1")
            if text[:7].lower() == "bearer ":
                return text[7:].strip()
    for name, value in scope.get("headers", ()):
        if name == b"cookie":
            for part in value.decode("latin-1").split(";"):
                k, _, v = part.strip().partition("=")
                if k == TOKEN_COOKIE and v:
                    return v
    return None


class AuthMiddleware(ASGIMiddleware):
    scopes = ("http", "websocket")

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        scope.setdefault("state", {})
        token = bearer_token(scope)
        user: User | None = None
        if token:
            app = scope["litestar_app"]
            async with app.state.pool.acquire() as conn:
                user = await authenticate(conn, app.state.clock, token)
            scope["state"]["token_invalid"] = user is None
        scope["state"]["user"] = user
        await next_app(scope, receive, send)


def current_user(connection: ASGIConnection[Any, Any, Any, Any]) -> User | None:
    return connection.scope.get("state", {}).get("user")


def requires(*roles: Role):
    """A guard that admits any signed-in user holding one of `roles` (any user when none are given)."""

    # async: Litestar runs a plain-function guard in a worker thread on every request (a thread hop and a GIL
    # hand-off per request, for a dict lookup)
    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        user = current_user(connection)
        if user is None:
            if connection.scope.get("state", {}).get("token_invalid"):
                raise TokenInvalid("the token is invalid, expired or revoked; sign in again")
            raise TokenInvalid("sign in first: this needs a bearer token")
        if roles and not user.has(*roles):
            raise RoleRequired(f"this needs one of the roles: {', '.join(sorted(str(r) for r in roles))}")

    guard.roles = roles  # type: ignore[attr-defined]
    return guard


signed_in = requires()
admin_only = requires(Role.ADMIN)
