"""Dependencies of the routes, as ``Annotated`` aliases.

``SettingsDep``, ``RedisDep`` and ``ClockDep`` hand out what ``create_app`` was
given (kept on ``app.state``). The role aliases authenticate the caller and
check its role:

==================  ==========================================================
``IngestDep``       send events (role ``ingest`` or ``admin``)
``ViewerDep``       read KPIs, alerts, config (``viewer`` and up)
``PublicViewerDep`` like ``ViewerDep``, but anonymous when ``api.public_wallboard``
``SupervisorDep``   acknowledge alerts, silence (``supervisor`` and up)
``AdminDep``        everything (``admin``)
==================  ==========================================================

With no keys configured (allowed only in development) every route is open.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from api.security import KeyRing, Principal, Role, presented_key
from sqm.clock import Clock
from sqm.config import Settings

log = logging.getLogger("sqm.api")

_bearer = HTTPBearer(auto_error=False, description="an sqm API key: `Authorization: Bearer <key>`")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="an sqm API key")

OPEN = Principal("anonymous", "admin", authenticated=False)
PUBLIC = Principal("public", "viewer", authenticated=False)


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


async def get_redis(request: Request) -> Any:
    return request.app.state.redis


async def get_clock(request: Request) -> Clock:
    return request.app.state.clock  # type: ignore[no-any-return]


# Trivial dependencies are coroutines: FastAPI would run plain functions in its thread pool.
SettingsDep = Annotated[Settings, Depends(get_settings)]
RedisDep = Annotated[Any, Depends(get_redis)]
ClockDep = Annotated[Clock, Depends(get_clock)]


def _unauthorized(request: Request, reason: str) -> HTTPException:
    request.app.state.metrics.auth_failures.labels(reason=reason).inc()
    detail = "invalid API key" if reason == "bad_key" else "an API key is required"
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"})


def presented(request: Request) -> str | None:
    """The key a request carries, for routes that authenticate by other means first."""
    return presented_key(request.headers.get("authorization"), request.headers.get("x-api-key"))


def authorize(request: Request, need: Role, key: str | None, *, public: bool = False) -> Principal:
    """The caller's principal if its key allows ``need``; 401 or 403 otherwise."""
    ring: KeyRing = request.app.state.keyring
    if not len(ring):
        return OPEN
    if key is None:
        if public and request.app.state.settings.api.public_wallboard:
            return PUBLIC
        raise _unauthorized(request, "missing_key")
    principal = ring.match(key)
    if principal is None:
        log.info("api: rejected a request with an unknown API key on %s", request.url.path)
        raise _unauthorized(request, "bad_key")
    if not principal.may(need):
        request.app.state.metrics.auth_failures.labels(reason="role").inc()
        msg = f"role {principal.role!r} may not do this (needs {need!r})"
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=msg)
    return principal


def require(need: Role, *, public: bool = False) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting callers whose role allows ``need``.

    ``public`` routes admit anonymous callers too when ``api.public_wallboard`` is on
    (a key that is presented must still be valid).
    """

    async def dependency(  # async: no thread-pool hop for a few microseconds of work
        request: Request,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        api_key: Annotated[str | None, Depends(_api_key)],
    ) -> Principal:
        return authorize(request, need, bearer.credentials if bearer is not None else api_key, public=public)

    dependency.__name__ = f"require_{need}{'_or_public' if public else ''}"
    return dependency


IngestDep = Annotated[Principal, Depends(require("ingest"))]
ViewerDep = Annotated[Principal, Depends(require("viewer"))]
PublicViewerDep = Annotated[Principal, Depends(require("viewer", public=True))]
SupervisorDep = Annotated[Principal, Depends(require("supervisor"))]
AdminDep = Annotated[Principal, Depends(require("admin"))]
