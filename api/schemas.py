"""The API's response bodies (pydantic, for the OpenAPI schema and validation)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class IngestAccepted(_Out):
    accepted: int = Field(description="events written to the event streams")
    entries: int = Field(description="stream entries they were written as")


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
    team: str
    channel: str
    region: str
    kpis: dict[str, float | None]
    n: dict[str, int]
    final: bool = True


class KpiHistory(_Out):
    series: str
    window: str
    team: str
    channel: str
    region: str
    points: list[KpiSnapshotOut]


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
    public_wallboard: bool
    timezone: str


class Health(_Out):
    status: Literal["ok"] = "ok"


class Ready(_Out):
    status: Literal["ready", "unavailable"]
    redis: str
