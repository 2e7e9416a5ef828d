"""``GET /v1/live``: Server-Sent Events relaying the KPI pub/sub channel.

Events: ``hello`` once (``{"window": ...}``), then ``kpis`` whose data is the JSON
list of KpiSnapshots the dataflow just wrote (filtered to ``?window=``, ``team=``,
``channel=``, ``region=`` when given), and ``alerts`` (data ``{}``) within about a second
of the alert engine changing an alert, so that a wallboard re-reads its banner. A comment line is sent every ``api.sse_ping_s`` seconds so proxies keep
the connection open; the browser's EventSource reconnects by itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, HTTPException, Query, Request
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.background import BackgroundTask

from api.deps import PublicViewerDep, SettingsDep
from api.limits import SlotRefused, StreamSlots, client_address
from api.schemas import Problem
from sqm import keys
from sqm.models import Window

router = APIRouter(prefix="/v1", tags=["live"])

_list = msgspec.json.Decoder(list[dict[str, Any]])
_enc = msgspec.json.Encoder()


def _only(data: bytes, wanted: dict[str, str]) -> bytes | None:
    """The snapshots of ``data`` whose window and dimensions are the wanted ones (None: none left)."""
    try:
        snaps = _list.decode(data)
    except msgspec.DecodeError:
        return None
    kept = [s for s in snaps if all(s.get(k) == v for k, v in wanted.items())]
    return _enc.encode(kept) if kept else None


@router.get(
    "/live",
    response_class=EventSourceResponse,
    response_model=None,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "a stream of `kpis` events"},
        429: {"model": Problem, "description": "this caller (key, or address without one) or the anonymous callers "
                                               "together have as many streams open as allowed",
              "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait"}}},
        503: {"model": Problem, "description": "the server has `api.sse_max_streams` streams open",
              "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait"}}},
    },
)
async def live(
    request: Request,
    settings: SettingsDep,
    principal: PublicViewerDep,
    window: Window | None = None,
    team: Annotated[str | None, Query(max_length=64)] = None,
    channel: Annotated[str | None, Query(max_length=64)] = None,
    region: Annotated[str | None, Query(max_length=64)] = None,
) -> EventSourceResponse:
    """Live KPI snapshots as they are written (Server-Sent Events), optionally only one window's
    and only the given dimensions (exact values; `*` = rolled up). Open streams are capped per key,
    per address without one, for anonymous callers together and in all (`api.sse_max_*`)."""
    slots: StreamSlots = request.app.state.stream_slots
    anonymous = not principal.authenticated
    who = f"addr:{client_address(request.scope)}" if anonymous else f"key:{principal.name}"
    try:
        slot = slots.acquire(who, anonymous=anonymous)
    except SlotRefused as err:
        raise HTTPException(err.status, detail=str(err), headers={"Retry-After": "30"}) from err
    wanted = {k: v for k, v in (("window", window), ("team", team), ("channel", channel), ("region", region))
              if v is not None}
    broadcaster = request.app.state.broadcaster
    sub = broadcaster.subscribe()

    async def stream() -> AsyncIterator[ServerSentEvent]:
        try:
            yield ServerSentEvent(event="hello", data=_enc.encode({"window": window}).decode())
            while True:
                item = await sub.get()
                if item is None:  # the app is shutting down
                    return
                channel, data = item
                if channel == keys.KPI_LIVE:
                    if wanted:
                        data = _only(data, wanted)
                        if data is None:
                            continue
                    yield ServerSentEvent(event="kpis", data=data.decode())
                else:  # a watch: "alerts" when the alert engine changed an alert
                    yield ServerSentEvent(event=channel, data=data.decode())
        finally:
            close()

    def close() -> None:  # idempotent: at the stream's end, and at the response's if the stream never started
        broadcaster.unsubscribe(sub)
        slot.release()

    return EventSourceResponse(stream(), ping=settings.api.sse_ping_s, background=BackgroundTask(close))
