"""Settings of the improvement loop (``improve:`` in sqm.yaml, ``SQM_IMPROVE__*``): experiments, actions,
quality reports and the long KPI history. One section of ``sqm.config.Settings``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from sqm.config.base import HHMM as _HHMM
from sqm.config.base import Section as _Section


class ReportSchedule(_Section):
    """One scheduled report: which period, when (site time, alerts.timezone), for whom."""

    period: Literal["day", "week", "month", "quarter"]
    at: str = Field("08:00", pattern=_HHMM, description="site time the report of the period just ended is sent")
    team: str = Field("*", description="a team's report, or * for the whole centre")
    receivers: list[str] = Field(default_factory=list, description="names from alerts.receivers")
    language: Literal["en", "zh"] = "zh"


class ImproveSettings(_Section):
    alpha: float = Field(0.05, gt=0, lt=0.5, description="error rate of the experiments' tests and intervals")
    verify_days: float = Field(14.0, gt=0, description="a landed action is checked on this many days before and after")
    reminder_every_h: float = Field(24.0, gt=0, description="an overdue action is reminded of this often")
    reports: list[ReportSchedule] = Field(default_factory=list, description="scheduled quality reports")
    hour_days: float = Field(35.0, gt=0, description="days of hourly aggregates kept in Redis")
    day_days: float = Field(400.0, gt=0, description="days of daily aggregates kept in Redis")
