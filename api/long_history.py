"""``GET /v1/kpis/history?grain=``: the long history (hour and day aggregates, weeks and months merged)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from api.schemas import KpiHistory
from improve.history import grain_for, points
from improve.store import aggregates_reader
from sqm.config import Settings


def grain_of(grain: str | None, since: datetime, until: datetime) -> str | None:
    """The grain asked for (``auto``: by the range), or None for the window's snapshots."""
    return grain_for(since, until) if grain == "auto" else grain


def long_history(redis: Any, settings: Settings, team: str, channel: str, region: str, since: datetime,
                 until: datetime, grain: str, limit: int) -> KpiHistory:
    chosen = grain
    stored = "1h" if chosen == "hour" else "1d"
    buckets = aggregates_reader(redis, stored)(team, channel, region, since, until)
    pts = points(buckets, chosen, (team, channel, region), ZoneInfo(settings.alerts.timezone))  # type: ignore[arg-type]
    window = pts[0]["window"] if pts else {"hour": "1h", "day": "1d", "week": "1w", "month": "1mo"}[chosen]
    return KpiHistory.model_validate({"series": f"{window}|{team}|{channel}|{region}", "window": window, "team": team,
                                      "channel": channel, "region": region, "points": pts[-limit:]})
