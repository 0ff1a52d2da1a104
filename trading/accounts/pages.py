"""Sign-in page. The API login sets the `th_token` cookie (HttpOnly, SameSite=Strict) that pages use."""
from __future__ import annotations

from typing import Any

import asyncpg
from litestar import Request, get, post
from litestar.datastructures import Cookie
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template

from trading.accounts import services
from trading.accounts.errors import LoginFailed
from trading.accounts.guards import PUBLIC, TOKEN_COOKIE
from trading.clock import Clock
from trading.pages import page_context, register_labels
from trading.settings import Settings

register_labels({
    "login.title": ("用户登录", "Sign in"),
    "login.username": ("用户名", "Username"),
    "login.password": ("密码", "Password"),
    "login.submit": ("登录", "Sign in"),
    "login.failed": ("用户名或密码错误", "Wrong username or password"),
})


@get("/login", opt=PUBLIC, include_in_schema=False)
async def login_page(request: Request[Any, Any, Any], next: str = "/") -> Template:
    return Template("accounts/login.html", context=page_context(request, next=_safe_next(next), error=None))


def _safe_next(target: str) -> str:
    # Only local paths: no open redirect to another site.
    return target if target.startswith("/") and not target.startswith("//") else "/"


@post("/login", opt=PUBLIC, include_in_schema=False)
async def login_form(
    request: Request[Any, Any, Any], conn: asyncpg.Connection, clock: Clock, settings: Settings, addr: str | None,
    data: dict[str, str] = Body(media_type=RequestEncodingType.URL_ENCODED),
) -> Template | Redirect:
    try:
        token = await services.login(conn, clock, data.get("username", ""), data.get("password", ""),
                                     ttl_hours=settings.token_ttl_hours, addr=addr)
    except LoginFailed:
        ctx = page_context(request, next=_safe_next(data.get("next", "/")), error="login.failed")
        return Template("accounts/login.html", context=ctx, status_code=401)
    return Redirect(_safe_next(data.get("next", "/")), status_code=303, cookies=[
        Cookie(key=TOKEN_COOKIE, value=token.token, httponly=True, samesite="strict",
               expires=int(token.expires_at.timestamp()))])


PAGES = [login_page, login_form]
