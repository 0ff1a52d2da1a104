"""Composition root: create_app() assembles every package's controllers, pages and background tasks.

This is the only module of `trading` that imports the other top-level packages.
"""
from __future__ import annotations

import importlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

from litestar import Litestar, get
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.static_files import create_static_files_router

from trading import db
from trading.accounts.controllers import AuthController, OrganisationController, UserController
from trading.accounts.dependencies import (
    provide_addr,
    provide_clock,
    provide_optional_user,
    provide_request_token,
    provide_settings,
    provide_user,
)
from trading.accounts.guards import PUBLIC, AuthMiddleware
from trading.clock import Clock, SystemClock
from trading.errors import EXCEPTION_HANDLERS
from trading.events import load_subscriptions
from trading.settings import Settings, load_settings

log = logging.getLogger("tenderhall")

# Hooks run once the pool is open (background tasks: checkpoint signer, scheduled transitions, …).
# Each receives the app and returns an async context manager that lives as long as the app.
StartupHook = Callable[[Litestar], Any]


@get("/health", opt=PUBLIC, operation_id="Health", tags=["platform"])
async def health(state: State) -> dict[str, str]:
    async with state.pool.acquire() as conn:
        await conn.fetchval("SELECT 1")
    return {"status": "ok"}


def _route_handlers() -> list[Any]:
    from trading.accounts.pages import PAGES as account_pages

    handlers: list[Any] = [health, AuthController, OrganisationController, UserController, *account_pages,
                           _docs_assets()]
    for module in _ROUTE_MODULES:
        handlers.extend(_optional(module, "ROUTES") or [])
    return handlers


def _optional(module: str, attr: str) -> Any:
    """`module.attr` if the module exists. A module that exists but fails to import is an error, not a skip."""
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name == module or module.startswith(f"{exc.name}."):
            return None
        raise
    return getattr(mod, attr)


# Each package exposes ROUTES in its controllers module.
_ROUTE_MODULES = ("trading.tenders.controllers", "trading.records.controllers", "trading.bids.controllers",
                  "trading.opening.controllers", "deposits.controllers", "expert_pool.controllers",
                  "evaluation.controllers")
# Background tasks: each module's lifespan_hook(app) returns an async context manager living as long as the app.
_HOOK_MODULES = ("trading.records.background", "trading.tenders.background", "trading.bids.background", "trading.opening.background",
                 "deposits.background", "expert_pool.background", "evaluation.background")


def _startup_hooks() -> list[StartupHook]:
    return [hook for module in _HOOK_MODULES if (hook := _optional(module, "lifespan_hook")) is not None]


def create_app(settings: Settings | None = None, clock: Clock | None = None, *,
               database_url: str | None = None, extra_hooks: Sequence[StartupHook] = ()) -> Litestar:
    settings = settings or load_settings()
    clock = clock or SystemClock()
    load_subscriptions()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        url = database_url or db.resolve_database_url(settings)
        pool = await db.create_pool(url, min_size=settings.db_pool_min, max_size=settings.db_pool_max)
        async with pool.acquire() as conn:
            await db.upgrade(conn)
        app.state.pool = pool
        app.state.database_url = url
        try:
            async with AsyncExitStack() as stack:
                for hook in [*_startup_hooks(), *extra_hooks]:
                    await stack.enter_async_context(hook(app))
                yield
        finally:
            await pool.close()

    from trading.pages import template_config  # late: pages import controllers of every package

    app = Litestar(
        route_handlers=_route_handlers(),
        lifespan=[lifespan],
        dependencies={
            "conn": Provide(db.provide_conn),
            "clock": Provide(provide_clock),
            "settings": Provide(provide_settings),
            "user": Provide(provide_user),
            "maybe_user": Provide(provide_optional_user),
            "addr": Provide(provide_addr),
            "request_token": Provide(provide_request_token),
        },
        middleware=[AuthMiddleware()],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        openapi_config=OpenAPIConfig(
            title="tenderhall", version="0.1.0", path="/api/docs",
            render_plugins=[_swagger_ui()],
        ),
        template_config=template_config(),
        cors_config=None,
        state=_state(settings, clock),
        request_max_body_size=64 * 1024 * 1024,
    )
    return app


DOCS_ASSETS = "/api/docs/assets"


def _swagger_ui() -> SwaggerRenderPlugin:
    """Swagger UI at /api/docs (and /api/docs/swagger) with its scripts and styles served by the platform itself
    (trading/static/swagger-ui, vendored swagger-ui-dist), so the API docs work on an intranet without any CDN."""
    return SwaggerRenderPlugin(path="/swagger", js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
                               css_url=f"{DOCS_ASSETS}/swagger-ui.css",
                               standalone_preset_js_url=f"{DOCS_ASSETS}/swagger-ui-standalone-preset.js",
                               favicon=f"<link rel='icon' type='image/png' href='{DOCS_ASSETS}/favicon-32x32.png'>")


def _docs_assets() -> Any:
    return create_static_files_router(DOCS_ASSETS, directories=[Path(__file__).parent / "static" / "swagger-ui"],
                                      opt=PUBLIC, name="docs-assets")


def _state(settings: Settings, clock: Clock) -> State:
    return State({"settings": settings, "clock": clock})
