"""``GET /v1/status`` (what an operator checks first) and ``GET /v1/deadletters``.

Status gathers, from Redis: the event stream partitions' lengths, the dead-letter
and anomalies streams, the dataflow's counters (``sqm:flow:stats``, written by
streams/sinks.py), the alerter's consumer groups (pending, lag) and the newest
window each KPI window has reached.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from api.deps import AdminDep, RedisDep, SettingsDep, ViewerDep
from api.schemas import DeadLetter, Status
from sqm import keys
from sqm.models import ALL, WINDOWS, decode_snapshot

router = APIRouter(prefix="/v1", tags=["status"])

def _s(x: Any) -> str:
    return x.decode("utf-8", "replace") if isinstance(x, bytes) else str(x)


def _num(x: Any) -> float | str:
    try:
        return float(_s(x))
    except ValueError:
        return _s(x)


def read_status(redis: Any, partitions: int) -> dict[str, Any]:
    pipe = redis.pipeline(transaction=False)
    for p in range(partitions):
        pipe.xlen(keys.events_stream(p))
    pipe.xlen(keys.DLQ)
    pipe.xlen(keys.ANOMALIES)
    pipe.hgetall(keys.FLOW_STATS)
    for w in WINDOWS:
        pipe.hget(keys.kpi_latest(w), keys.dims_field(ALL, ALL, ALL))
        pipe.hlen(keys.kpi_latest(w))
    out = pipe.execute()
    lengths, dlq, anomalies, flow = out[:partitions], out[partitions], out[partitions + 1], out[partitions + 2]
    windows = {}
    for i, w in enumerate(WINDOWS):
        raw, series = out[partitions + 3 + 2 * i], out[partitions + 4 + 2 * i]
        snap = decode_snapshot(raw) if raw else None
        windows[w] = {"series": series, "newest_start": snap.start if snap else None, "final": snap.final if snap else None}
    groups = []
    try:
        for g in redis.xinfo_groups(keys.ANOMALIES):
            groups.append({"name": _s(g.get("name")), "consumers": g.get("consumers"), "pending": g.get("pending"),
                           "lag": g.get("lag")})
    except Exception:  # no anomalies stream yet: no group either
        groups = []
    return {
        "events": [{"partition": p, "entries": n} for p, n in enumerate(lengths)],
        "dlq_entries": dlq,
        "anomaly_entries": anomalies,
        "flow": {_s(k): _num(v) for k, v in flow.items()},
        "alerter_groups": groups,
        "windows": windows,
    }


@router.get("/status", response_model=Status)
def status(request: Request, redis: RedisDep, settings: SettingsDep, _: ViewerDep) -> dict[str, Any]:
    """Queues, the dataflow's counters, the alerter's backlog and how far each KPI window has got."""
    out = read_status(redis, settings.streams.partitions)
    out["live_clients"] = request.app.state.broadcaster.clients
    return out


@router.get("/deadletters", response_model=list[DeadLetter])
def deadletters(
    redis: RedisDep, _: AdminDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    source: Annotated[str | None, Query(max_length=100, description="e.g. `webhook:chatwoot`")] = None,
) -> list[dict[str, Any]]:
    """The newest dead-lettered records with the reason (admin: ``raw`` may hold customer text)."""
    rows = []
    for entry_id, fields in redis.xrevrange(keys.DLQ, count=limit if source is None else limit * 10):
        f = {_s(k): v for k, v in fields.items()}
        if source is not None and _s(f.get("source", "")) != source:
            continue
        eid = _s(entry_id)
        rows.append({
            "id": eid, "at": datetime.fromtimestamp(int(eid.split("-")[0]) / 1000, UTC),
            "reason": _s(f.get("reason", "")), "field": _s(f.get("field", "")), "source": _s(f.get("source", "")),
            "raw": _s(f.get("raw", b""))[:4000],
        })
        if len(rows) >= limit:
            break
    return rows
