"""``POST /v1/events``: ingest one event or a JSON array of them, all or nothing."""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from fastapi import APIRouter, HTTPException, Request, status
from redis import RedisError
from starlette.concurrency import run_in_threadpool

from api.deps import ClockDep, IngestDep, RedisDep, SettingsDep
from api.limits import LogSampler
from api.schemas import IngestAccepted, Problem, ValidationProblem
from sqm.config import Settings
from sqm.errors import InvalidEvent
from sqm.eventlog import append_events
from sqm.ingest import EventTimes, decode_batch
from sqm.models import DEFAULT_REGION, ServiceEvent
from sqm.store import MemoryGuard

log = logging.getLogger("sqm.api")

router = APIRouter(prefix="/v1/events", tags=["events"])

_EVENT_SCHEMA, _COMPONENTS = msgspec.json.schema_components([ServiceEvent], ref_template="#/components/schemas/{name}")
EVENT_COMPONENTS: dict[str, Any] = _COMPONENTS
"""``ServiceEvent`` as OpenAPI components; ``create_app`` merges them into the schema."""

_BODY = {
    "requestBody": {
        "required": True,
        "description": "One ServiceEvent, or a JSON array of at most `api.max_batch` of them (all or nothing); "
                       "or `application/x-ndjson`, one event per line.",
        "content": {
            "application/json": {
                "schema": {"oneOf": [_EVENT_SCHEMA[0], {"type": "array", "items": _EVENT_SCHEMA[0]}]},
                "example": {
                    "event_id": "crm-7f3a-1",
                    "type": "contact.created",
                    "ts": "2026-03-02T09:00:00+08:00",
                    "contact_id": "c-1001",
                    "team": "billing",
                    "channel": "chat",
                    "region": "east",
                },
            }
        },
    }
}


def ndjson_to_array(body: bytes) -> bytes:
    r"""One event per line (NDJSON) as a JSON array, so that errors name the line as ``loc[1]`` (0-based).

    >>> ndjson_to_array(b'{"a": 1}\n\n{"b": 2}\n')
    b'[{"a": 1},{"b": 2}]'
    """
    return b"[" + b",".join(line for line in (x.strip() for x in body.splitlines()) if line) + b"]"


def unknown_dimensions(settings: Settings, events: list[ServiceEvent]) -> list[dict[str, Any]]:
    """With ``api.strict_dimensions``: the events whose team, channel or region is not configured."""
    known = {
        "team": {t.name for t in settings.teams},
        "channel": {c.name for c in settings.channels},
        "region": {*settings.regions, DEFAULT_REGION},
    }
    out: list[dict[str, Any]] = []
    for i, ev in enumerate(events):
        for field, names in known.items():
            value = getattr(ev, field)
            if value not in names:
                msg = f"unknown {field} {value!r} (configured: {', '.join(sorted(names))})"
                out.append({"loc": ["body", i, field] if len(events) > 1 else ["body", field], "field": field,
                            "msg": msg, "type": "unknown_dimension"})
        if len(out) >= 20:
            break
    return out


RETRY_AFTER_S = 5
"""Seconds a 503 (Redis full or unavailable) asks the sender to wait."""


class StoreFull(Exception):
    """Redis is within the dataflow's headroom of maxmemory: nothing was written."""


def append_unless_full(redis: Any, guard: MemoryGuard, events: list[ServiceEvent], partitions: int,
                       incoming: int, *, source: str = "api") -> list[bytes]:
    """``append_events`` unless the guard says Redis is (nearly) full; raises StoreFull or a RedisError, and then
    nothing was written (the append is one transaction)."""
    refusal = guard.refusal(incoming)
    if refusal is not None:
        count = _full_logged.hit()
        if count is not None:
            log.warning("api: ingest refused %d time(s) (logged at most every 10 s): %s", count, refusal)
        msg = f"{refusal}; retry later"
        raise StoreFull(msg)
    return append_events(redis, events, partitions, source=source)


_full_logged = LogSampler(10.0)


def _refuse(request: Request, reason: str, code: int, detail: Any, *, retry_after: bool = False) -> HTTPException:
    request.app.state.metrics.events_rejected.labels(reason=reason).inc()
    headers = {"Retry-After": str(RETRY_AFTER_S)} if retry_after else None
    return HTTPException(code, detail=detail, headers=headers)


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=IngestAccepted,
    openapi_extra=_BODY,
    responses={
        413: {"model": Problem, "description": "body larger than `api.max_body_bytes` or more than `api.max_batch` events"},
        422: {"model": ValidationProblem, "description": "an event is invalid (or its `ts` is outside the accepted "
                                                         "range): `field` and `msg` say which and why"},
        503: {"model": Problem, "description": "Redis is unavailable, or within `api.redis_headroom` of its maxmemory: "
                                               "nothing was written; retry after `Retry-After` seconds",
              "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait"}}},
    },
)
async def ingest(request: Request, settings: SettingsDep, redis: RedisDep, clock: ClockDep, _: IngestDep) -> IngestAccepted:
    """Validate the events and append them to the event streams.

    The answer (202) comes only after Redis has accepted every event; an invalid
    event anywhere in a batch refuses the whole batch (nothing is written), and so
    does a `ts` outside the accepted range (`streams.ts_max_age_s` before now to
    `streams.ts_max_ahead_s` after it). The same `event_id` sent twice is counted
    once by the dataflow.
    """
    body = await request.body()  # bounded by the app's max_body_size (413)
    if request.headers.get("content-type", "").startswith(("application/x-ndjson", "application/jsonl")):
        body = ndjson_to_array(body)
    events = decode_batch(body, times=EventTimes.of(settings.streams), now=clock.now().timestamp())
    if isinstance(events, InvalidEvent):
        raise _refuse(request, "invalid", status.HTTP_422_UNPROCESSABLE_CONTENT, [events.as_dict()])
    if len(events) > settings.api.max_batch:
        msg = f"a batch holds at most api.max_batch={settings.api.max_batch} events, got {len(events)}"
        raise _refuse(request, "batch_too_large", status.HTTP_413_CONTENT_TOO_LARGE, msg)
    if settings.api.strict_dimensions:
        problems = unknown_dimensions(settings, events)
        if problems:
            raise _refuse(request, "unknown_dimension", status.HTTP_422_UNPROCESSABLE_CONTENT, problems)
    if not events:
        raise _refuse(request, "empty", status.HTTP_422_UNPROCESSABLE_CONTENT,
                      [{"loc": ["body"], "field": "", "msg": "an empty array holds no events", "type": "invalid_event"}])
    guard: MemoryGuard = request.app.state.memory_guard
    try:
        ids = await run_in_threadpool(append_unless_full, redis, guard, events, settings.streams.partitions, len(body))
    except StoreFull as err:
        raise _refuse(request, "redis_full", status.HTTP_503_SERVICE_UNAVAILABLE, str(err), retry_after=True) from err
    except RedisError as err:
        log.error("api: Redis refused %d events: %s", len(events), err)
        raise _refuse(request, "store", status.HTTP_503_SERVICE_UNAVAILABLE, "the event store is unavailable; retry",
                      retry_after=True) from err
    request.app.state.metrics.events_accepted.inc(len(events))
    return IngestAccepted(accepted=len(events), entries=len(ids))
