"""The app factory: ``create_app(settings, redis=...)`` builds one FastAPI app.

Nothing is created at import time; ``sqm api`` and ``sqm demo`` call the factory
with the settings read once at start-up and run the result with uvicorn.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, routing
from fastapi.exception_handlers import http_exception_handler
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from redis import RedisError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from alerts.heartbeats.watchdog import AlerterWatchdog
from api.limits import CallerLimits, RateLimitMiddleware, StreamSlots
from api.live import ALERTS_CHANGED, Broadcaster
from api.metrics import ApiMetrics, ObservingMiddleware
from api.openapi import complete
from api.routes import acklink, alerts, config, events, health, kpis, live, status, wallboard, webhooks
from api.routes.improve import ROUTERS as IMPROVE_ROUTERS
from api.security import KeyRing
from sqm import keys
from sqm.clock import Clock, SystemClock
from sqm.config import Settings
from sqm.store import MemoryGuard, connect, memory_info, policy_problem

log = logging.getLogger("sqm.api")

BODY_NOT_PARSED = "There was an error parsing the body"
"""FastAPI's 400 detail for a body it could not parse; sqm answers such a body 422, like any other bad input."""

SWAGGER_UI_DIR = Path(str(resources.files("fastapi_swagger") / "resources"))
"""Swagger UI 5's bundle and styles (the ``fastapi-swagger`` package ships swagger-ui-dist's files), served
by sqm under ``/docs/assets``: ``/docs`` needs no CDN. Swagger UI 4 cannot read OpenAPI 3.1."""

DESCRIPTION = """\
Real-time service-quality monitor for contact centers.

Authenticate with `Authorization: Bearer <key>` or `X-API-Key: <key>`. Roles:
`ingest` (send events), `viewer` < `supervisor` < `admin`. With
`api.public_wallboard` the wallboard, `/v1/kpis*`, `/v1/live` and
`/v1/config/public` are readable without a key.
"""


def create_app(settings: Settings, *, redis: Any = None, clock: Clock | None = None) -> FastAPI:
    """Build the API and wallboard app.

    ``redis`` is a redis-py client (default: ``sqm.store.connect(settings.redis_url)``);
    ``clock`` defaults to the system clock.
    """
    if redis is None:
        redis = connect(settings.redis_url)
    keyring = KeyRing(settings.api.keys)
    if not len(keyring):
        log.warning("api: no API keys configured: every route is open (allowed in development only)")
    metrics = ApiMetrics(redis, settings.streams.partitions)
    clock = clock or SystemClock()
    _check_redis_policy(redis)
    broadcaster = Broadcaster(redis, [keys.KPI_LIVE])
    # the alert engine publishes nothing: the newest update in its index tells the wallboards to look
    broadcaster.watch(ALERTS_CHANGED, lambda r: r.zrevrange(keys.ALERT_INDEX, 0, 0, withscores=True), every_s=1.0)

    beat = settings.alerts.heartbeat
    watchdog = (AlerterWatchdog(settings, redis, clock=clock, every_s=min(10.0, beat.every_s))
                if beat.enabled and beat.watchdog else None)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        broadcaster.reopen()
        if watchdog is not None:  # a dead alerter cannot say so: the API tells the receivers
            watchdog.start()
        yield
        if watchdog is not None:
            watchdog.stop()
        broadcaster.stop()

    app = FastAPI(
        title="sqm",
        summary="contact-center service-quality monitor",
        description=DESCRIPTION,
        version="0.1.0",
        lifespan=lifespan,
        max_body_size=settings.api.max_body_bytes,
        docs_url=None,  # served below from SWAGGER_UI_DIR, not from a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.redis = redis
    app.state.clock = clock
    app.state.memory_guard = MemoryGuard(redis, headroom=settings.api.redis_headroom,
                                         ttl_s=settings.api.redis_memory_check_s, clock=clock.monotonic)
    app.state.keyring = keyring
    app.state.metrics = metrics
    app.state.broadcaster = broadcaster
    app.state.watchdog = watchdog

    a = settings.api
    app.state.stream_slots = StreamSlots(total=a.sse_max_streams, per_caller=a.sse_max_per_caller,
                                         per_address=a.sse_max_per_address, anonymous=a.sse_max_anonymous)
    if a.rate_limit_per_s > 0:
        limits = CallerLimits(keyring, a.rate_limit_per_s, a.rate_limit_burst, clock=clock.monotonic)
        app.add_middleware(RateLimitMiddleware, limits=limits, metrics=metrics)
    app.add_middleware(ObservingMiddleware, metrics=metrics)
    for router in (health.router, events.router, kpis.router, config.router, live.router, alerts.router,
                   alerts.silences, alerts.deliveries, webhooks.router, status.router, acklink.make_router(settings), wallboard.router, *IMPROVE_ROUTERS):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=wallboard.WALLBOARD_DIR), name="static")
    app.mount("/docs/assets", StaticFiles(directory=SWAGGER_UI_DIR), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=app.openapi_url or "/openapi.json", title="sqm API",
                                   swagger_js_url="/docs/assets/swagger-ui-bundle.js",
                                   swagger_css_url="/docs/assets/swagger-ui.css",
                                   swagger_favicon_url="/docs/assets/favicon-32x32.png")

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, summary=app.summary,
                                 description=app.description, routes=app.routes)
            schema.setdefault("components", {}).setdefault("schemas", {}).update(events.EVENT_COMPONENTS)
            app.openapi_schema = complete(schema, app.routes, settings)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 400 and exc.detail == BODY_NOT_PARSED:  # FastAPI's answer to a body that is not JSON
            return JSONResponse({"detail": [{"loc": ["body"], "field": "", "msg": "the body is not valid JSON",
                                             "type": "json_invalid"}]}, status_code=422)
        if exc.status_code == 405:  # Starlette's Allow names only the first route of the path; every method it has
            allowed = allowed_methods(app.routes, request.scope)
            return JSONResponse({"detail": "Method Not Allowed"}, status_code=405, headers={"Allow": ", ".join(allowed)})
        return await http_exception_handler(request, exc)

    @app.exception_handler(RedisError)
    async def store_unavailable(request: Request, exc: RedisError) -> JSONResponse:
        log.error("api: %s %s: Redis failed: %s", request.method, request.url.path, exc)
        return JSONResponse({"detail": "the store (Redis) is unavailable; retry"}, status_code=503,
                            headers={"Retry-After": "5"})

    return app


def _check_redis_policy(redis: Any) -> None:
    """Warn at start-up about a ``maxmemory-policy`` that would evict acknowledged events (/readyz says it too)."""
    try:
        problem = policy_problem(memory_info(redis).policy)
    except RedisError as err:  # not reachable yet: /readyz tells
        log.warning("api: could not read Redis's memory settings: %s", err)
        return
    if problem is not None:
        log.warning("api: %s", problem)


def allowed_methods(routes: list[Any], scope: Any) -> list[str]:
    """The methods of the path a 405 was for: of the routes with exactly that path if any (``/v1/alerts/route-test``
    rather than ``/v1/alerts/{fingerprint}``), else of the first path that matched."""
    matched = [r for r in routing.iter_route_contexts(routes) if hasattr(r, "matches") and r.matches(scope)[0] != Match.NONE]
    exact = [r for r in matched if r.path_format == scope["path"]]
    chosen = exact or [r for r in matched if matched and r.path_format == matched[0].path_format]
    return sorted({m for r in chosen for m in r.methods or ()})
