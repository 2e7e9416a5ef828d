"""The API's response bodies (pydantic, for the OpenAPI schema and validation)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from sqm.redact import printable

Shown = Annotated[str, AfterValidator(printable)]
"""A name read back from Redis, its non-printable characters escaped before it reaches a wallboard or a terminal
(ingest refuses such names; this covers data written before, or by hand)."""


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class IngestAccepted(_Out):
    accepted: int = Field(description="events written to the event streams")
    entries: int = Field(description="stream entries they were written as")


class WebhookAccepted(_Out):
    accepted: int = Field(description="events written to the event streams")
    skipped: int = Field(description="deliveries or events sqm does not count (or already counted)")
    dead_lettered: int = Field(description="deliveries written to the dead-letter stream instead (see detail)")
    detail: str = ""


class ErrorItem(_Out):
    loc: list[str | int]
    field: str = Field(description="dotted path of the bad field, '' for the whole record")
    msg: str
    type: str


class ValidationProblem(_Out):
    detail: list[ErrorItem]


class Problem(_Out):
    detail: str


class KpiSnapshotOut(_Out):
    window: str
    start: datetime
    end: datetime
    team: Shown
    channel: Shown
    region: Shown
    kpis: dict[str, float | None]
    n: dict[str, int]
    final: bool = True


class KpiHistory(_Out):
    series: Shown
    window: str
    team: Shown
    channel: Shown
    region: Shown
    points: list[KpiSnapshotOut]


class KpiDelta(_Out):
    current: float | None
    reference: float | None
    change: float | None = Field(None, description="current - reference")
    change_pct: float | None = Field(None, description="relative change in percent")
    verdict: Literal["better", "worse", "same", "n/a"] = "n/a"


class KpiComparison(_Out):
    series: str
    window: str
    vs: str
    current: KpiSnapshotOut | None
    reference_label: str
    reference_windows: int = Field(description="snapshots the reference is made of (a baseline averages several)")
    reference_start: datetime | None
    reference_end: datetime | None
    kpis: dict[str, KpiDelta]


class TeamOut(_Out):
    name: str
    display: str
    display_zh: str


class ChannelOut(_Out):
    name: str
    display: str
    display_zh: str
    answer_target_s: float


class KpiMeta(_Out):
    unit: Literal["count", "seconds", "ratio", "score"]
    bad: Literal["up", "down", "none"]
    en: str
    zh: str
    target: float | None = Field(None, description="the service standard; None when the KPI has none")
    warn: float | None = Field(None, description="amber beyond this value (still meeting the target)")


class PublicConfig(_Out):
    teams: list[TeamOut]
    channels: list[ChannelOut]
    regions: list[str]
    windows: list[str]
    default_window: str
    kpis: dict[str, KpiMeta]
    warn_margin: float = Field(description="amber band, as a share of the room between target and ideal")
    public_wallboard: bool
    timezone: str


class WindowProgress(_Out):
    series: int = Field(description="dimensions with a latest snapshot")
    newest_start: datetime | None = Field(description="start of the newest overall window")
    final: bool | None


class Status(_Out):
    events: list[dict[str, int]]
    dlq_entries: int
    anomaly_entries: int
    flow: dict[str, float | str] = Field(description="the dataflow's counters (events, duplicate, late, invalid, ...)")
    alerter_groups: list[dict[str, Any]]
    windows: dict[str, WindowProgress]
    live_clients: int


class DeadLetter(_Out):
    id: str
    at: datetime
    reason: str
    field: str
    source: str
    raw: str


class WhoAmI(_Out):
    name: str
    role: Literal["ingest", "viewer", "supervisor", "admin"] | None
    authenticated: bool


class Health(_Out):
    status: Literal["ok"] = "ok"


class Ready(_Out):
    status: Literal["ready", "unavailable"]
    redis: str
    warnings: list[str] = Field(default_factory=list, description="an evicting maxmemory-policy, ingest refused "
                                "for memory pressure")
    heartbeats: dict[str, dict[str, float | bool]] = Field(
        default_factory=dict,
        description="every heartbeat check (`source:<name>`, `team:<name>`, `flow_lag`, `alerter:<name>`, "
                    "`watchdog`): `age_s` (since the last arrival / heartbeat, or the flow's lag), `alarm` (open), "
                    "and for silences `expected` arrivals and their probability `p`")


# --- alerts ------------------------------------------------------------------------
class AlertOut(BaseModel):
    """An alert as the alert engine keeps it (fields the engine adds later pass through)."""

    model_config = ConfigDict(frozen=True, extra="allow")

    fingerprint: str
    state: Literal["pending", "firing", "acknowledged", "resolved"]
    labels: dict[str, str]
    anomaly: dict[str, Any]
    started_at: datetime
    updated_at: datetime
    resolved_at: datetime | None = None
    acked_by: str | None = None
    acked_at: datetime | None = None
    timeline: list[dict[str, Any]] = Field(default_factory=list)


class WallboardAlert(_Out):
    """What the floor sees of an open alert: no names, comments or timeline."""

    fingerprint: str
    state: str
    severity: str
    kpi: str
    window: str
    team: str
    channel: str
    region: str
    value: float
    expected: float | None
    direction: str
    started_at: datetime
    reason_en: str
    reason_zh: str


class AckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: str = Field("", max_length=500)
    timeout_s: float | None = Field(None, gt=0, le=7 * 86400, description="the acknowledgement lapses after this")


class SilenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    matchers: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        min_length=1, max_length=20, description='label matchers, e.g. `team="billing"`, `kpi=~"frt_.*"`'
    )
    starts_at: AwareDatetime | None = Field(None, description="default: now")
    ends_at: AwareDatetime | None = Field(None, description="give this or duration_s")
    duration_s: float | None = Field(None, gt=0, le=30 * 86400)
    comment: str = Field("", max_length=500)
    expire_when_resolved: bool = False


class SilenceOut(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")

    id: str
    matchers: list[str]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str = ""
    expire_when_resolved: bool = False
    created_at: datetime
    expired_at: datetime | None = None


class RouteTestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    labels: dict[str, str] = Field(description="e.g. {team: billing, kpi: timeout_rate, severity: critical}")


class RouteMatchOut(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")

    receiver: str
    route: Any = None
    group_by: list[str] = Field(default_factory=list)
    group_key: Any = None


class ReceiverOut(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")

    name: str
    channels: list[str] = Field(description="masked: tokens never leave the process")


class NotificationOut(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")

    id: str
    kind: str
    receiver: str
    channel: str
    status: str
    attempts: list[dict[str, Any]] = Field(default_factory=list)
