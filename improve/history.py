"""The long history as points of a chosen grain: hours and days as stored, ISO weeks and months merged
from days in the site's time zone (``GET /v1/kpis/history?grain=``).

``grain_for`` picks a grain for a range: up to 6 hours by minute, 8 days by hour, 92 days by day, two
years by week, beyond by month.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta, tzinfo
from typing import Any, Literal

from improve.periods import bounds, name_of
from improve.totals import Totals, merge_totals, quantile

Grain = Literal["minute", "hour", "day", "week", "month"]
WINDOW_OF = {"minute": "1m", "hour": "1h", "day": "1d", "week": "1w", "month": "1mo"}


def grain_for(since: datetime, until: datetime) -> Grain:
    """
    >>> from datetime import UTC
    >>> t = datetime(2026, 3, 2, tzinfo=UTC)
    >>> [grain_for(t, t + timedelta(days=d)) for d in (0.2, 3, 90, 400, 900)]
    ['minute', 'hour', 'day', 'week', 'month']
    """
    span = until - since
    for limit, grain in ((timedelta(hours=6), "minute"), (timedelta(days=8), "hour"), (timedelta(days=92), "day"),
                         (timedelta(days=731), "week")):
        if span <= limit:
            return grain  # type: ignore[return-value]
    return "month"


def _point(window: str, start: datetime, end: datetime, dims: tuple[str, str, str], totals: Totals) -> dict[str, Any]:
    kpis: dict[str, float | None] = {k: m.value() for k, m in totals.items()}
    n = {k: m.den for k, m in totals.items() if m.kind not in ("count", "level")}
    frt = totals.get("frt_avg_s")
    if frt is not None and frt.hist:
        kpis["frt_p50_s"], kpis["frt_p90_s"] = quantile(frt.hist, 0.5), quantile(frt.hist, 0.9)
        n["frt_p50_s"] = n["frt_p90_s"] = frt.den
    if "volume" in totals:
        n["volume"] = int(totals["volume"].num)
    return {"window": window, "start": start, "end": end, "team": dims[0], "channel": dims[1], "region": dims[2],
            "kpis": kpis, "n": n, "final": True}


def points(buckets: Iterable[tuple[datetime, Totals]], grain: Grain, dims: tuple[str, str, str],
           tz: tzinfo) -> list[dict[str, Any]]:
    """Hour or day buckets as points of ``grain`` (hour, day: one each; week, month: merged by site-local period)."""
    step = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
    if grain in step:
        return [_point(WINDOW_OF[grain], t, t + step[grain], dims, tot) for t, tot in buckets]
    groups: dict[str, list[Totals]] = {}
    for t, tot in buckets:
        groups.setdefault(name_of("week" if grain == "week" else "month", t.astimezone(tz).date()), []).append(tot)
    out = []
    for period in sorted(groups):
        start, end = bounds(period, tz)
        out.append(_point(WINDOW_OF[grain], start, end, dims, merge_totals(groups[period])))
    return out
