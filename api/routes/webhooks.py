"""``POST /v1/webhooks/{name}``: helpdesk webhooks (``api.webhooks``) turned into events.

A source with a ``secret`` is authenticated by its signature (helpdesks cannot
send our API keys); one without needs an ``ingest`` key. Every delivery that is
not an event is written to the dead-letter stream with the reason: one that is not
the helpdesk's payload at all (not UTF-8, not JSON, a field of the wrong type) is
answered 422, one that cannot be mapped (no team, a bad rating, an invalid event)
202 ``dead_lettered``. No delivery is answered 5xx but for a Redis failure, so the
helpdesk does not retry anything forever.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from redis import RedisError
from starlette.concurrency import run_in_threadpool

from api.deps import ClockDep, RedisDep, SettingsDep, authorize, presented
from api.helpdesks import HELPDESKS, BadSignature, Malformed, Mapped, Unmappable
from api.routes.events import RETRY_AFTER_S, StoreFull, append_unless_full
from api.schemas import Problem, WebhookAccepted
from sqm import keys
from sqm.config import Settings, WebhookSource
from sqm.eventlog import DeadLetter, append_dead_letters, dead_letter
from sqm.ingest import EventTimes, decode_mapped
from sqm.models import ServiceEvent
from sqm.store import MemoryGuard

log = logging.getLogger("sqm.api")

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

def _dead_letter(redis: Any, settings: Settings, src: WebhookSource, field: str, reason: str, raw: bytes) -> None:
    append_dead_letters(redis, [dead_letter(reason=reason, field=field, source=f"webhook:{src.name}", raw=raw,
                                            keep_text=settings.text.keep_raw)])


def _deliver(redis: Any, settings: Settings, src: WebhookSource, mapped: list[Mapped], raw: bytes,
             now: float, guard: MemoryGuard) -> tuple[int, int, int]:
    """Validate, drop once-only events already sent, append; returns (accepted, skipped, dead-lettered)."""
    events: list[tuple[ServiceEvent, str | None]] = []
    times = EventTimes.of(settings.streams)
    for m in mapped:
        got: ServiceEvent | DeadLetter = decode_mapped(m.event, source=f"webhook:{src.name}", raw=raw, times=times,
                                                       now=now, keep_text=settings.text.keep_raw)
        if not isinstance(got, ServiceEvent):
            append_dead_letters(redis, [got])
            return 0, 0, 1
        events.append((got, m.once))
    ttl = int(settings.streams.contact_max_age_s)
    keep = [once is None for _, once in events]
    claimed: list[str] = []  # once-keys this delivery set (released again if the write fails)
    wanted = [(i, keys.webhook_once(src.name, once)) for i, (_, once) in enumerate(events) if once is not None]
    if wanted:
        pipe = redis.pipeline(transaction=False)
        for _, key in wanted:
            pipe.set(key, 1, nx=True, ex=ttl)
        for (i, key), was_set in zip(wanted, pipe.execute(), strict=True):
            if was_set:
                keep[i] = True
                claimed.append(key)
    out = [ev for (ev, _), k in zip(events, keep, strict=True) if k]
    try:
        append_unless_full(redis, guard, out, settings.streams.partitions, len(raw),
                           source=f"webhook:{src.name}")
    except (RedisError, StoreFull):
        if claimed:  # let the helpdesk's retry through
            redis.delete(*claimed)
        raise
    return len(out), len(events) - len(out), 0


@router.post(
    "/{name}",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=WebhookAccepted,
    responses={
        401: {"model": Problem, "description": "bad or missing signature (or key)"},
        404: {"model": Problem, "description": "no such source"},
        422: {"model": Problem, "description": "not the helpdesk's payload (not UTF-8, not JSON, a field of the wrong "
                                               "type): `detail` names the field; the delivery is dead-lettered"},
        503: {"model": Problem, "description": "Redis is unavailable or nearly full: nothing was written; retry",
              "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait"}}},
    },
)
async def receive(name: str, request: Request, settings: SettingsDep, redis: RedisDep, clock: ClockDep) -> WebhookAccepted:
    """Receive one webhook delivery from a configured helpdesk (see docs/api.md for each kind)."""
    src = next((w for w in settings.api.webhooks if w.name == name), None)
    if src is None:
        msg = f"no webhook source {name!r} (configure api.webhooks)"
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=msg)
    helpdesk = HELPDESKS[src.kind]
    body = await request.body()
    secret = src.secret.get_secret_value()
    if secret:
        try:
            helpdesk.verify(secret, request.headers, body, clock.now(), src.max_skew_s)
        except BadSignature as err:
            request.app.state.metrics.auth_failures.labels(reason="signature").inc()
            log.info("api: webhook %s refused: %s", src.name, err)
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail=f"webhook signature: {err}") from err
    else:
        authorize(request, "ingest", presented(request))
    teams = {t.name for t in settings.teams}
    now = clock.now()
    try:
        mapped = helpdesk.map(src, body, now, teams)
    except Malformed as err:
        await run_in_threadpool(_dead_letter, redis, settings, src, err.field, err.reason, body)
        request.app.state.metrics.events_rejected.labels(reason="webhook_malformed").inc()
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=f"not a {src.kind} delivery: {err}") from err
    except Unmappable as err:
        await run_in_threadpool(_dead_letter, redis, settings, src, err.field, err.reason, body)
        request.app.state.metrics.events_rejected.labels(reason="webhook_unmappable").inc()
        return WebhookAccepted(accepted=0, skipped=0, dead_lettered=1, detail=str(err))
    if not mapped:
        return WebhookAccepted(accepted=0, skipped=1, dead_lettered=0, detail="nothing sqm counts")
    try:
        accepted, skipped, dead = await run_in_threadpool(_deliver, redis, settings, src, mapped, body, now.timestamp(),
                                                          request.app.state.memory_guard)
    except StoreFull as err:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=str(err),
                            headers={"Retry-After": str(RETRY_AFTER_S)}) from err
    except RedisError as err:
        log.error("api: webhook %s: Redis refused the events: %s", src.name, err)
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail="the event store is unavailable; retry") from err
    request.app.state.metrics.events_accepted.inc(accepted)
    return WebhookAccepted(accepted=accepted, skipped=skipped, dead_lettered=dead)
