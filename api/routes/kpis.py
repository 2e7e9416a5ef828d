"""``/v1/kpis``: the latest snapshots and the history the dataflow writes to Redis."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from api.deps import ClockDep, PublicViewerDep, RedisDep, SettingsDep
from api.schemas import KpiHistory, KpiSnapshotOut
from sqm import keys
from sqm.models import ALL, Window, decode_snapshot, series_id, to_builtins

router = APIRouter(prefix="/v1/kpis", tags=["kpis"])

Dim = Annotated[str | None, Query(max_length=64, description="exact value; `*` = rolled up over all; omit for any")]


def _order(snap: dict[str, Any]) -> tuple[bool, str, bool, str, bool, str]:
    # the overall ("*") rows first, then by name
    return (snap["team"] != ALL, snap["team"], snap["channel"] != ALL, snap["channel"], snap["region"] != ALL, snap["region"])


def read_latest(redis: Any, window: str, team: str | None, channel: str | None, region: str | None) -> list[dict[str, Any]]:
    """The latest snapshot of every dimension matching the filters (None matches any value)."""
    key = keys.kpi_latest(window)
    if team is not None and channel is not None and region is not None:
        raw = redis.hget(key, keys.dims_field(team, channel, region))
        values = [raw] if raw is not None else []
    else:
        values = []
        for field, raw in redis.hscan_iter(key, count=1000):
            t, c, r = (field.decode() if isinstance(field, bytes) else field).split("|")
            if (team is None or t == team) and (channel is None or c == channel) and (region is None or r == region):
                values.append(raw)
    return sorted((to_builtins(decode_snapshot(v)) for v in values), key=_order)


@router.get("", response_model=list[KpiSnapshotOut])
def latest(
    redis: RedisDep,
    settings: SettingsDep,
    _: PublicViewerDep,
    window: Window | None = None,
    team: Dim = None,
    channel: Dim = None,
    region: Dim = None,
) -> list[dict[str, Any]]:
    """The latest snapshot per dimension (team × channel × region) of one window.

    `?window=1m&channel=*&region=*` gives one row per team plus the overall row
    (`team=*`). A snapshot with `final=false` belongs to a window still open.
    """
    return read_latest(redis, window or settings.api.wallboard_window, team, channel, region)


def read_history(redis: Any, series: str, since: float, until: float, limit: int) -> list[dict[str, Any]]:
    """One series' snapshots with window start in [since, until], one per window (final ones win)."""
    raws = redis.zrangebyscore(keys.kpi_history(series), since, until)
    by_start: dict[str, dict[str, Any]] = {}
    for raw in raws:
        snap = to_builtins(decode_snapshot(raw))
        seen = by_start.get(snap["start"])
        if seen is None or snap["final"] or not seen["final"]:
            by_start[snap["start"]] = snap
    points = sorted(by_start.values(), key=lambda s: s["start"])
    return points[-limit:]


@router.get("/history", response_model=KpiHistory)
def history(
    redis: RedisDep,
    settings: SettingsDep,
    clock: ClockDep,
    _: PublicViewerDep,
    window: Window | None = None,
    team: Annotated[str, Query(max_length=64)] = ALL,
    channel: Annotated[str, Query(max_length=64)] = ALL,
    region: Annotated[str, Query(max_length=64)] = ALL,
    since: Annotated[AwareDatetime | None, Query(description="RFC 3339 with offset; default: an hour ago")] = None,
    until: Annotated[AwareDatetime | None, Query(description="RFC 3339 with offset; default: now")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 2000,
) -> KpiHistory:
    """Snapshots of one series (oldest first) from the 48-hour history."""
    w = window or settings.api.wallboard_window
    now = clock.now()
    lo = (since or now - timedelta(hours=1)).timestamp()
    hi = (until or now).timestamp()
    series = series_id(w, team, channel, region)
    points = read_history(redis, series, lo, hi, limit)
    return KpiHistory.model_validate(
        {"series": series, "window": w, "team": team, "channel": channel, "region": region, "points": points}
    )
