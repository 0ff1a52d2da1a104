"""Every route declares who may call it: a guard, or an explicit place on the public list."""
from litestar.handlers import HTTPRouteHandler

from trading.app import create_app
from trading.settings import Settings

# Routes Litestar itself adds (OpenAPI docs) are public by nature.
FRAMEWORK_PUBLIC_PREFIXES = ("/api/docs", "/schema")


def _unguarded(app):
    missing = []
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            path = route.path
            if path.startswith(FRAMEWORK_PUBLIC_PREFIXES):
                continue
            if isinstance(handler, HTTPRouteHandler) and handler.http_methods == {"OPTIONS"}:
                continue  # CORS pre-flight handlers Litestar generates
            guards = []
            for layer in handler.ownership_layers:
                guards.extend(getattr(layer, "guards", None) or [])
            public = bool(handler.opt.get("public"))
            if not guards and not public:
                methods = sorted(handler.http_methods) if isinstance(handler, HTTPRouteHandler) else ["WS"]
                missing.append(f"{','.join(methods)} {path}")
    return missing


def test_every_route_has_a_guard_or_is_explicitly_public():
    app = create_app(Settings(database_url="postgresql://unused/never", background=False))
    assert len(app.routes) > 5
    assert _unguarded(app) == []


def test_guard_walk_detects_an_unguarded_route():
    from litestar import get

    @get("/oops")
    async def oops() -> str:
        return "x"

    app = create_app(Settings(database_url="postgresql://unused/never", background=False))
    app.register(oops)
    assert _unguarded(app) == ["GET,HEAD /oops"] or _unguarded(app) == ["GET /oops"]


def test_public_list_is_small_and_explicit():
    app = create_app(Settings(database_url="postgresql://unused/never", background=False))
    public = sorted(
        r.path for r in app.routes for h in getattr(r, "route_handlers", []) if h.opt.get("public")
    )
    assert "/health" in public and "/api/auth/login" in public
    # nothing that changes tender/bid state is public
    assert not any(p.startswith(("/api/users", "/api/bids")) for p in public), public
