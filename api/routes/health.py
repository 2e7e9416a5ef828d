"""``/healthz`` (the process answers), ``/readyz`` (Redis answers too) and ``/metrics``."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.deps import RedisDep, ViewerDep
from api.schemas import Health, Ready

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    return Health()


@router.get("/readyz", response_model=Ready, responses={503: {"model": Ready}})
def readyz(redis: RedisDep, response: Response) -> Ready:
    try:
        redis.ping()
    except Exception as err:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        return Ready(status="unavailable", redis=type(err).__name__)
    return Ready(status="ready", redis="ok")


@router.get("/metrics", response_class=Response, response_model=None,
            responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text format"}})
def metrics(request: Request, _: ViewerDep) -> Response:
    state = request.app.state
    state.metrics.sse_clients.set(state.broadcaster.clients)
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
