"""The shared records every part of sqm relies on (see docs/architecture.md).

- ``ServiceEvent``: one fact about a contact, the input contract (defined in ``sqm.events``,
  re-exported here).
- ``KpiSnapshot``: the KPIs of one window at one dimension (team x channel x region).
- ``Anomaly``: a detector's finding about one KPI series.
- ``Alert``: what the alert engine tracks for one fingerprint.

Records are msgspec Structs: strict, fast to decode (the dataflow decodes every
event) and JSON-encoded the same way everywhere (``encode``/``decode_*``).
This module imports nothing else of the project but ``sqm.events`` and ``sqm.errors``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import msgspec

from sqm.events import (
    DEFAULT_REGION,
    EVENT_TYPES,
    NAME_CHARS,
    TEXT_MAX,
    AwareTime,
    EventType,
    Ident,
    Name,
    Seconds,
    ServiceEvent,
    Text,
    decode_event,
    decode_events,
    event_from_dict,
    name_problem,
)

__all__ = [
    "ALL", "DEFAULT_REGION", "AwareTime", "Ident", "Name", "Seconds", "Text", "EVENT_TYPES", "KPIS", "KPI_NAMES", "NAME_CHARS", "SEVERITIES", "SEVERITY_RANK",
    "TEXT_MAX", "WINDOWS", "Alert", "Anomaly", "Contributor", "EventType", "KpiInfo", "KpiSnapshot", "ServiceEvent",
    "TimelineEntry", "decode_alert", "decode_anomaly", "decode_event", "decode_events", "decode_snapshot", "encode",
    "event_from_dict", "most_severe", "name_problem", "series_id", "to_builtins",
]

ALL = "*"
"""Dimension value meaning "all" in a rolled-up snapshot (e.g. team="*")."""

_encoder = msgspec.json.Encoder()


def encode(record: msgspec.Struct | Any) -> bytes:
    """JSON-encode any sqm record (or plain data holding records)."""
    return _encoder.encode(record)


def to_builtins(record: Any) -> Any:
    """A record as plain dicts/lists/str, e.g. for an API response."""
    return msgspec.to_builtins(record)


# --- KPIs -------------------------------------------------------------------------

Window = Literal["1m", "5m", "1h", "60m"]
"""1-minute, 5-minute and hourly tumbling windows, and a rolling 60 minutes updated every minute."""
WINDOWS: tuple[str, ...] = Window.__args__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class KpiInfo:
    """What a KPI is, for people: its unit, which way is bad, its names."""

    unit: Literal["count", "seconds", "ratio", "score"]
    bad: Literal["up", "down", "none"]
    en: str
    zh: str


KPIS: dict[str, KpiInfo] = {
    "volume": KpiInfo("count", "none", "Contacts", "进线量"),
    "frt_avg_s": KpiInfo("seconds", "up", "First response (avg)", "平均首次响应时长"),
    "frt_p50_s": KpiInfo("seconds", "up", "First response (p50)", "首次响应时长中位数"),
    "frt_p90_s": KpiInfo("seconds", "up", "First response (p90)", "首次响应时长P90"),
    "service_level": KpiInfo("ratio", "down", "Service level", "服务水平"),
    "timeout_rate": KpiInfo("ratio", "up", "Timeout rate", "超时率"),
    "abandon_rate": KpiInfo("ratio", "up", "Abandon rate", "放弃率"),
    "resolution_rate": KpiInfo("ratio", "down", "Resolution rate", "解决率"),
    "fcr_rate": KpiInfo("ratio", "down", "First-contact resolution", "一次解决率"),
    "aht_s": KpiInfo("seconds", "up", "Handle time (avg)", "平均处理时长"),
    "csat": KpiInfo("ratio", "down", "CSAT", "满意度"),
    "nps": KpiInfo("score", "down", "NPS", "净推荐值"),
    "complaint_rate": KpiInfo("ratio", "up", "Complaint rate", "投诉率"),
    "complaint_timely_rate": KpiInfo("ratio", "down", "Complaints answered in time", "投诉及时响应率"),
    "backlog": KpiInfo("count", "up", "Backlog", "积压量"),
}
KPI_NAMES: tuple[str, ...] = tuple(KPIS)


class KpiSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """The KPIs of one window at one dimension.

    ``team``/``channel``/``region`` are ``"*"`` where rolled up. Each KPI in
    ``kpis`` is None (not 0) when its denominator is empty; ``n`` holds that
    denominator per KPI. ``final`` is False for a provisional value of a window
    still open; a later snapshot for the same window replaces it.
    """

    window: Window
    start: AwareTime
    end: AwareTime
    team: str = ALL
    channel: str = ALL
    region: str = ALL
    kpis: dict[str, float | None]
    n: dict[str, int]
    final: bool = True

    @property
    def dims(self) -> tuple[str, str, str]:
        return (self.team, self.channel, self.region)

    @property
    def series(self) -> str:
        return series_id(self.window, self.team, self.channel, self.region)


def series_id(window: str, team: str = ALL, channel: str = ALL, region: str = ALL) -> str:
    """The stable name of one dimension's series of snapshots: ``1m|billing|*|*``."""
    return f"{window}|{team}|{channel}|{region}"


def decode_snapshot(raw: bytes | str) -> KpiSnapshot:
    return msgspec.json.decode(raw, type=KpiSnapshot)


# --- anomalies and alerts -----------------------------------------------------------

Severity = Literal["info", "warning", "critical"]
SEVERITIES: tuple[str, ...] = Severity.__args__  # type: ignore[attr-defined]
"""Least to most severe: the one order of severities (the wallboard's copy is checked against it)."""
SEVERITY_RANK: dict[str, int] = {s: i for i, s in enumerate(SEVERITIES)}
"""``info`` 0, ``warning`` 1, ``critical`` 2: compare severities by rank, sort the most severe first by ``-rank``."""
Direction = Literal["up", "down"]


def most_severe(severities: Iterable[str], default: str = "info") -> str:
    """The highest of ``severities`` in the one order (``default`` when there are none).

    >>> most_severe(["warning", "critical", "info"]), most_severe([])
    ('critical', 'info')
    """
    return max(severities, key=SEVERITY_RANK.__getitem__, default=default)


class Contributor(msgspec.Struct, frozen=True, kw_only=True):
    """A child series that explains part of an aggregate's change."""

    dimension: Literal["team", "channel", "region"]
    value: str
    kpi_value: float | None
    expected: float | None
    share: float
    """Fraction of the parent's change this child accounts for (0..1)."""


class Anomaly(msgspec.Struct, frozen=True, kw_only=True):
    """A detector's finding about one KPI series, what the detectors hand the alert engine.

    ``status`` is "firing" while the incident lasts (repeated sightings carry the
    same ``incident_start``) and "resolved" once, when it ends.
    """

    kpi: str
    window: Window
    team: str = ALL
    channel: str = ALL
    region: str = ALL
    start: AwareTime
    end: AwareTime
    value: float
    expected: float | None = None
    lower: float | None = None
    upper: float | None = None
    change_pct: float | None = None
    score: float = 0.0
    n: int = 0
    severity: Severity = "warning"
    direction: Direction = "up"
    detector: str
    status: Literal["firing", "resolved"] = "firing"
    incident_start: AwareTime | None = None
    reason_en: str = ""
    reason_zh: str = ""
    contributors: tuple[Contributor, ...] = ()

    @property
    def fingerprint(self) -> str:
        """Same KPI, dimensions and detector → same alert."""
        return f"{self.detector}|{self.kpi}|{self.window}|{self.team}|{self.channel}|{self.region}"

    @property
    def labels(self) -> dict[str, str]:
        return {
            "kpi": self.kpi,
            "window": self.window,
            "team": self.team,
            "channel": self.channel,
            "region": self.region,
            "severity": self.severity,
            "detector": self.detector,
            "direction": self.direction,
        }


def decode_anomaly(raw: bytes | str) -> Anomaly:
    return msgspec.json.decode(raw, type=Anomaly)


AlertState = Literal["pending", "firing", "acknowledged", "resolved"]


class TimelineEntry(msgspec.Struct, frozen=True, kw_only=True):
    at: AwareTime
    state: str
    by: str = "sqm"
    why: str = ""


class Alert(msgspec.Struct, kw_only=True):
    """What the alert engine tracks for one fingerprint (alerts/ owns its life cycle)."""

    fingerprint: str
    state: AlertState
    labels: dict[str, str]
    anomaly: Anomaly
    started_at: AwareTime
    updated_at: AwareTime
    resolved_at: AwareTime | None = None
    acked_by: str | None = None
    acked_at: AwareTime | None = None
    timeline: list[TimelineEntry] = msgspec.field(default_factory=list)
    # added by alerts/ (all optional): what the engine shows supervisors about an alert
    sightings: int = 0
    flapping: bool = False
    hold_until: AwareTime | None = None
    """pending → firing at this time, or a held (flapping) resolution resolves at it."""
    ack_expires_at: AwareTime | None = None
    escalation_level: int = 0
    receivers: list[str] = msgspec.field(default_factory=list)
    silenced_by: list[str] = msgspec.field(default_factory=list)
    inhibited_by: str | None = None


def decode_alert(raw: bytes | str) -> Alert:
    return msgspec.json.decode(raw, type=Alert)
