"""``/healthz`` (the process answers), ``/readyz`` (Redis answers too) and ``/metrics``."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from alerts.heartbeats.monitor import heartbeat_status
from api.deps import ClockDep, RedisDep, SettingsDep, ViewerDep
from api.schemas import Health, Ready
from sqm.store import memory_info, policy_problem

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    return Health()


@router.get("/readyz", response_model=Ready, responses={503: {"model": Ready, "description": "Redis does not answer"}})
def readyz(request: Request, redis: RedisDep, settings: SettingsDep, clock: ClockDep, response: Response) -> Ready:
    """Ready when Redis answers; `warnings` names an evicting `maxmemory-policy` and ingest refused for memory;
    `heartbeats` says, per source, team, the flow and each alerter, how long since it was last heard of and
    whether its alarm is open (alerts.heartbeats)."""
    try:
        redis.ping()
        info = memory_info(redis)
        pressure = request.app.state.memory_guard.refusal()
    except Exception as err:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        return Ready(status="unavailable", redis=type(err).__name__)
    warnings = [w for w in (policy_problem(info.policy), pressure and f"ingest refused: {pressure}") if w]
    beats = heartbeat_status(settings, redis, clock.now()) if settings.alerts.heartbeat.enabled else {}
    return Ready(status="ready", redis="ok", warnings=warnings, heartbeats=beats)


@router.get("/metrics", response_class=Response, response_model=None,
            responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text format"}})
def metrics(request: Request, _: ViewerDep) -> Response:
    state = request.app.state
    state.metrics.sse_clients.set(state.broadcaster.clients)
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
