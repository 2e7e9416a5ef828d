"""``/v1/kpis``: the latest snapshots and the history the dataflow writes to Redis."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import AwareDatetime, BeforeValidator

from api.compare import PERIOD_S, WINDOW_S, average, delta
from api.deps import ClockDep, PublicViewerDep, RedisDep, SettingsDep
from api.long_history import grain_of, long_history
from api.schemas import KpiComparison, KpiHistory, KpiSnapshotOut
from sqm import keys
from sqm.models import ALL, KPIS, Window, decode_snapshot, series_id, to_builtins

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


_RFC3339 = re.compile(r"^\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d")


def rfc3339_only(value: Any) -> Any:
    """Refuse what pydantic would also read as a time but the schema does not promise (epoch numbers)."""
    if isinstance(value, str) and not _RFC3339.match(value):
        msg = "must be an RFC 3339 date-time with an offset, e.g. 2026-03-02T09:00:00+08:00"
        raise ValueError(msg)
    return value


@router.get("", response_model=list[KpiSnapshotOut])
def latest(
    redis: RedisDep,
    settings: SettingsDep,
    _: PublicViewerDep,
    window: Window | None = None,
    team: Dim = None,
    channel: Dim = None,
    region: Dim = None,
    limit: Annotated[int, Query(ge=1, le=100_000, description="at most this many rows (overall first)")] = 5000,
) -> list[dict[str, Any]]:
    """The latest snapshot per dimension (team × channel × region) of one window.

    `?window=1m&channel=*&region=*` gives one row per team plus the overall row
    (`team=*`). A snapshot with `final=false` belongs to a window still open.
    """
    return read_latest(redis, window or settings.api.wallboard_window, team, channel, region)[:limit]


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
    since: Annotated[AwareDatetime | None, BeforeValidator(rfc3339_only),
                     Query(description="RFC 3339 with offset; default: an hour ago")] = None,
    until: Annotated[AwareDatetime | None, BeforeValidator(rfc3339_only),
                     Query(description="RFC 3339 with offset; default: now")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 2000,
    grain: Annotated[Literal["auto", "minute", "hour", "day", "week", "month"] | None, Query(
        description="the long history: hours and site-local days as kept, weeks and months merged from days; "
                    "`auto` picks by the range; omit for the window's snapshots")] = None,
) -> KpiHistory:
    """Snapshots of one series (oldest first) from the 48-hour history, or with `grain` the long history."""
    now = clock.now()
    since, until = since or now - timedelta(hours=1), until or now
    chosen = grain_of(grain, since, until)
    if chosen not in (None, "minute"):
        return long_history(redis, settings, team, channel, region, since, until, chosen, limit)
    w = "1m" if chosen == "minute" else window or settings.api.wallboard_window
    lo, hi = since.timestamp(), until.timestamp()
    series = series_id(w, team, channel, region)
    points = read_history(redis, series, lo, hi, limit)
    return KpiHistory.model_validate(
        {"series": series, "window": w, "team": team, "channel": channel, "region": region, "points": points}
    )


CompareVs = Annotated[str, Query(
    pattern=r"^(baseline|previous|day|week|overall|team:[^\s:*|,=]{1,64})$",
    description="`baseline` (mean of the previous `windows`), `previous` window, same window a `day` or `week` "
                "earlier, the `overall` center, or `team:<name>`",
)]


@router.get("/compare", response_model=KpiComparison)
def compare(
    redis: RedisDep,
    settings: SettingsDep,
    _: PublicViewerDep,
    team: Annotated[str, Query(max_length=64)],
    window: Window | None = None,
    channel: Annotated[str, Query(max_length=64)] = ALL,
    region: Annotated[str, Query(max_length=64)] = ALL,
    vs: CompareVs = "baseline",
    windows: Annotated[int, Query(ge=1, le=500, description="windows in the baseline")] = 30,
    kpi: Annotated[list[str] | None, Query(description="KPIs to compare (default: all)")] = None,
) -> KpiComparison:
    """The series' latest window against a reference, KPI by KPI, with the verdict better / worse / same."""
    unknown = [k for k in kpi or () if k not in KPIS]
    if unknown:
        msg = f"unknown KPI {unknown[0]!r} (known: {', '.join(KPIS)})"
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            detail=[{"loc": ["query", "kpi"], "field": "kpi", "msg": msg, "type": "value_error"}])
    w = window or settings.api.wallboard_window
    series = series_id(w, team, channel, region)
    latest = read_latest(redis, w, team, channel, region)
    current = latest[0] if latest else None
    ref_snaps: list[dict[str, Any]] = []
    label = vs
    if current is not None:
        start = datetime.fromisoformat(current["start"]).timestamp()
        step = WINDOW_S[w]
        if vs == "baseline":
            ref_snaps = read_history(redis, series, start - windows * step, start - 1, windows)
            label = f"mean of the {len(ref_snaps)} windows before"
        elif vs in ("previous", "day", "week"):
            back = {"previous": PERIOD_S[w], "day": 86400, "week": 7 * 86400}[vs]
            ref_snaps = read_history(redis, series, start - back, start - back, 1)
        else:
            other = (ALL, channel, region) if vs == "overall" else (vs.split(":", 1)[1], channel, region)
            ref_snaps = read_latest(redis, w, *other)
            label = f"{other[0]} (latest)"
    ref = average(ref_snaps) if ref_snaps else {}
    names = kpi or list(KPIS)
    cur = current["kpis"] if current else {}
    return KpiComparison.model_validate({
        "series": series, "window": w, "vs": vs, "current": current, "reference_label": label,
        "reference_windows": len(ref_snaps),
        "reference_start": ref_snaps[0]["start"] if ref_snaps else None,
        "reference_end": ref_snaps[-1]["end"] if ref_snaps else None,
        "kpis": {k: delta(k, cur.get(k), ref.get(k)) for k in names},
    })
