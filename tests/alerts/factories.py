"""Builders for the alert tests: anomalies, settings with receivers, an engine on the real Redis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqm.config import Settings
from sqm.keys import ANOMALIES
from sqm.models import Anomaly, encode

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, a Monday


def anomaly(kpi: str = "timeout_rate", *, team: str = "billing", channel: str = "chat", region: str = "*",
            value: float = 0.35, expected: float | None = 0.20, at: datetime = T0, status: str = "firing",
            severity: str = "warning", detector: str = "swing", window: str = "60m", **kw: Any) -> Anomaly:
    return Anomaly(kpi=kpi, window=window, team=team, channel=channel, region=region, start=at - timedelta(minutes=60),
                   end=at, value=value, expected=expected, severity=severity, detector=detector, status=status,
                   incident_start=kw.pop("incident_start", at - timedelta(minutes=3)), **kw)


def settings(**alerts: Any) -> Settings:
    base: dict[str, Any] = {"group_wait_s": 0, "group_interval_s": 60, "repeat_interval_s": 3600}
    base.update(alerts)
    return Settings(alerts=base)


def json_url(receiver: Any, path: str = "/hook") -> str:
    return f"json://{receiver.url}{path}"


def push(redis: Any, *anomalies: Anomaly) -> None:
    for a in anomalies:
        redis.xadd(ANOMALIES, {"a": encode(a)})
