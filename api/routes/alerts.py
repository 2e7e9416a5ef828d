"""Alerts, silences, routing and deliveries: thin HTTP over ``alerts.service``.

Reading needs ``viewer``; acknowledging and silencing ``supervisor``; the
receivers (masked) ``admin``. The wallboard reads a reduced view of the open
alerts (``/v1/alerts/wallboard``) without a key when the wallboard is public.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, HTTPException, Query, status
from starlette.concurrency import run_in_threadpool

from alerts import service
from api.deps import AdminDep, ClockDep, PublicViewerDep, RedisDep, SettingsDep, SupervisorDep, ViewerDep
from api.redact import redact
from api.schemas import (
    AckIn,
    AlertOut,
    NotificationOut,
    ReceiverOut,
    RouteMatchOut,
    RouteTestIn,
    SilenceIn,
    SilenceOut,
    WallboardAlert,
)
from sqm.models import SEVERITY_RANK, Alert, to_builtins

router = APIRouter(prefix="/v1/alerts", tags=["alerts"])
silences = APIRouter(prefix="/v1/silences", tags=["silences"])
deliveries = APIRouter(prefix="/v1", tags=["deliveries"])

State = Literal["pending", "firing", "acknowledged", "resolved"]


def _not_found(msg: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, detail=msg)


@router.get("", response_model=list[AlertOut])
def list_alerts(
    redis: RedisDep,
    _: ViewerDep,
    state: Annotated[list[State] | None, Query(description="repeat to give several")] = None,
    active: Annotated[bool, Query(description="only alerts not resolved")] = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[dict[str, Any]]:
    """Alerts, the most recently updated first."""
    return [to_builtins(a) for a in service.list_alerts(redis, state=state, limit=limit, active_only=active)]


def _wallboard_view(a: Alert) -> dict[str, Any]:
    an = a.anomaly
    return {
        "fingerprint": a.fingerprint, "state": a.state, "severity": an.severity, "kpi": an.kpi, "window": an.window,
        "team": an.team, "channel": an.channel, "region": an.region, "value": an.value, "expected": an.expected,
        "direction": an.direction, "started_at": a.started_at, "reason_en": an.reason_en, "reason_zh": an.reason_zh,
    }


@router.get("/wallboard", response_model=list[WallboardAlert])
def wallboard_alerts(redis: RedisDep, _: PublicViewerDep) -> list[dict[str, Any]]:
    """Open alerts (firing or acknowledged) as the wallboard shows them, critical first."""
    open_alerts = service.list_alerts(redis, state=["firing", "acknowledged"], active_only=True, limit=100)
    open_alerts.sort(key=lambda a: (a.state != "firing", -SEVERITY_RANK[a.anomaly.severity], a.started_at))
    return [_wallboard_view(a) for a in open_alerts]


@router.get("/receivers", response_model=list[ReceiverOut])
def receivers(settings: SettingsDep, _: AdminDep) -> list[dict[str, Any]]:
    """The configured receivers; channel URLs are masked."""
    return redact(service.receivers(settings))  # type: ignore[no-any-return]


@router.post("/route-test", response_model=list[RouteMatchOut])
def route_test(settings: SettingsDep, body: RouteTestIn, _: SupervisorDep) -> list[dict[str, Any]]:
    """Which receivers an alert with these labels reaches (dry run: nothing is sent)."""
    return service.route_dry_run(settings, body.labels)


@router.get("/{fingerprint}", response_model=AlertOut, responses={404: {"description": "no such alert"}})
def get_alert(redis: RedisDep, _: ViewerDep, fingerprint: str) -> dict[str, Any]:
    try:
        return to_builtins(service.get_alert(redis, fingerprint))  # type: ignore[no-any-return]
    except service.UnknownAlert as err:
        msg = f"alert {fingerprint!r} not found"
        raise _not_found(msg) from err


@router.post("/{fingerprint}/ack", response_model=AlertOut, responses={404: {"description": "no such alert"}})
async def acknowledge(
    redis: RedisDep, settings: SettingsDep, clock: ClockDep, who: SupervisorDep, fingerprint: str,
    body: Annotated[AckIn | None, Body()] = None,
) -> dict[str, Any]:
    """Acknowledge a firing alert: escalation stops until it resolves or the acknowledgement lapses."""
    ack = body or AckIn()
    try:
        alert = await run_in_threadpool(
            service.acknowledge, redis, settings, fingerprint, who.name, comment=ack.comment,
            timeout_s=ack.timeout_s, clock=clock,
        )
    except service.UnknownAlert as err:
        msg = f"alert {fingerprint!r} not found"
        raise _not_found(msg) from err
    return to_builtins(alert)  # type: ignore[no-any-return]


# --- silences ----------------------------------------------------------------------
@silences.get("", response_model=list[SilenceOut])
def list_silences(redis: RedisDep, clock: ClockDep, _: ViewerDep, include_expired: bool = False) -> list[dict[str, Any]]:
    return [to_builtins(s) for s in service.list_silences(redis, include_expired=include_expired, clock=clock)]


@silences.post("", response_model=SilenceOut, status_code=status.HTTP_201_CREATED)
def create_silence(redis: RedisDep, clock: ClockDep, who: SupervisorDep, body: SilenceIn) -> dict[str, Any]:
    """Hold back notifications of the alerts whose labels match every matcher, for a while."""
    starts = body.starts_at or clock.now()
    if (body.ends_at is None) == (body.duration_s is None):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=[
            {"loc": ["body", "ends_at"], "field": "ends_at", "msg": "give exactly one of ends_at and duration_s",
             "type": "value_error"}])
    ends = body.ends_at or starts + timedelta(seconds=body.duration_s or 0)
    try:
        s = service.create_silence(redis, body.matchers, starts, ends, who.name, comment=body.comment,
                                   expire_when_resolved=body.expire_when_resolved, clock=clock)
    except ValueError as err:
        head = str(err).split(":", 1)[0]
        field = head if head in SilenceIn.model_fields else "matchers" if "matcher" in str(err) else ""
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=[
            {"loc": ["body", field], "field": field, "msg": str(err), "type": "value_error"}]) from err
    return to_builtins(s)  # type: ignore[no-any-return]


@silences.delete("/{silence_id}", response_model=SilenceOut, responses={404: {"description": "no such silence"}})
def expire_silence(redis: RedisDep, clock: ClockDep, _: SupervisorDep, silence_id: str) -> dict[str, Any]:
    """End a silence now (it stays listed with ``include_expired``)."""
    try:
        return to_builtins(service.expire_silence(redis, silence_id, clock=clock))  # type: ignore[no-any-return]
    except KeyError as err:
        msg = f"silence {silence_id!r} not found"
        raise _not_found(msg) from err


# --- deliveries --------------------------------------------------------------------
@deliveries.get("/notifications", response_model=list[NotificationOut])
def list_notifications(
    redis: RedisDep, _: SupervisorDep,
    status_: Annotated[Literal["pending", "delivered", "failed", "invalid"] | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """Notifications in the outbox with their delivery attempts (channels masked)."""
    return redact(service.list_notifications(redis, status=status_, limit=limit))  # type: ignore[no-any-return]


@deliveries.get("/notifications/{notification_id}", response_model=NotificationOut,
                responses={404: {"description": "no such notification"}})
def get_notification(redis: RedisDep, _: SupervisorDep, notification_id: str) -> dict[str, Any]:
    n = service.get_notification(redis, notification_id)
    if n is None:
        msg = f"notification {notification_id!r} not found"
        raise _not_found(msg)
    return redact(n)  # type: ignore[no-any-return]


@deliveries.get("/deliveries", response_model=list[dict[str, str]])
def delivery_attempts(redis: RedisDep, _: SupervisorDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, str]]:
    """The latest delivery attempts, newest first: masked channel, status, vendor code, latency."""
    return redact(service.delivery_attempts(redis, limit=limit))  # type: ignore[no-any-return]
