"""Dependencies shared by every package's controllers."""
from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.datastructures import State

from trading.accounts.guards import bearer_token, current_user
from trading.accounts.schemas import User
from trading.clock import Clock
from trading.settings import Settings


async def provide_user(request: Request[Any, Any, Any]) -> User:
    """The signed-in user; only for routes whose guard already required one."""
    user = current_user(request)
    assert user is not None, "provide_user on a route without a signed-in guard"
    return user


async def provide_optional_user(request: Request[Any, Any, Any]) -> User | None:
    return current_user(request)


async def provide_clock(state: State) -> Clock:
    return state.clock


async def provide_settings(state: State) -> Settings:
    return state.settings


async def provide_addr(request: Request[Any, Any, Any]) -> str | None:
    # 电子招标投标办法 第四十九条: every operation records its network address.
    return request.client.host if request.client else None


async def provide_request_token(request: Request[Any, Any, Any]) -> str:
    return bearer_token(request.scope) or ""


def caller(request: Request[Any, Any, Any]) -> tuple[User, str | None]:
    """provide_user and provide_addr as one plain call, for a hot route that takes no injected dependencies:
    Litestar resolves two or more of them in an anyio task group, a task each, on every request."""
    user = current_user(request)
    assert user is not None, "caller() on a route without a signed-in guard"
    return user, request.client.host if request.client else None
