"""The OpenAPI description, completed with what the app's own machinery answers on every route.

FastAPI documents what a route declares; the answers that come from around it are
added here, route by route, from its dependencies: 401 and 403 where a key is checked
(``require_*``), 429 where the rate limit applies, 503 where Redis is used (the store
handler), 404 where a keyed route's path names an item (``{id}``: no such item). A 422 is FastAPI's
list of errors or sqm's ``{"detail": "<reason>"}`` (a check a schema cannot express,
e.g. a period's format): both are declared. A public route (``*_or_public`` with ``api.public_wallboard``) declares its
real security: a key is optional (``{}`` among the requirements), and a key that is
presented must still be valid. schemathesis checks the result against the running API.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import routing
from fastapi.dependencies.models import Dependant

from api.limits import EXEMPT
from sqm.config import Settings

_PROBLEM = {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
_RETRY = {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait"}}
_ANSWERS: dict[str, dict[str, Any]] = {
    "401": {"description": "no key, or a key that matches none (`WWW-Authenticate: Bearer`)", "content": _PROBLEM},
    "403": {"description": "the key's role may not do this", "content": _PROBLEM},
    "429": {"description": "rate limit: too many requests from this caller", "content": _PROBLEM, "headers": _RETRY},
    "503": {"description": "Redis is unavailable (or, for ingest, nearly full)", "content": _PROBLEM,
            "headers": _RETRY},
    "404": {"description": "no such item", "content": _PROBLEM},
}
_FASTAPI_422 = {"$ref": "#/components/schemas/HTTPValidationError"}
_ANY_422 = {"anyOf": [_FASTAPI_422, {"$ref": "#/components/schemas/Problem"}]}


def _calls(dependant: Dependant) -> Iterator[str]:
    for dep in dependant.dependencies:
        yield getattr(dep.call, "__name__", "")
        yield from _calls(dep)


def complete(schema: dict[str, Any], routes: list[Any], settings: Settings) -> dict[str, Any]:
    """``schema`` with every route's machinery answers and public routes' optional security added."""
    limited = settings.api.rate_limit_per_s > 0
    for route in routing.iter_route_contexts(routes):  # FastAPI's view of each route with its router's prefix
        if not isinstance(route.original_route, routing.APIRoute) or not route.include_in_schema:
            continue
        names = set(_calls(route.dependant))
        keyed = any(n.startswith("require_") for n in names)
        public = any(n.endswith("_or_public") for n in names) and settings.api.public_wallboard
        path = route.path_format or ""
        codes = [c for c, wanted in (("401", keyed), ("403", keyed), ("503", "get_redis" in names), ("404", keyed and "{" in path),
                                     ("429", limited and not path.startswith(EXEMPT))) if wanted]
        for method in route.methods or ():
            op = schema["paths"].get(route.path_format, {}).get(method.lower())
            if op is None:
                continue
            responses = op.setdefault("responses", {})
            for code in codes:
                responses.setdefault(code, _ANSWERS[code])
            body = responses.get("422", {}).get("content", {}).get("application/json", {})
            if body.get("schema") == _FASTAPI_422:
                body["schema"] = _ANY_422
            if public and op.get("security"):
                op["security"] = [{}, *op["security"]]
    return schema
