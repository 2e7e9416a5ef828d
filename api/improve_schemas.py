"""Bodies of the improvement-loop routes: experiments, improvement actions, their results (pydantic)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class ArmIn(_In):
    label: str = Field("", max_length=64)
    team: str = Field("*", max_length=64)
    channel: str = Field("*", max_length=64)
    region: str = Field("*", max_length=64)
    since: AwareDatetime | None = Field(None, description="before/after: the start of this arm's own period")
    until: AwareDatetime | None = None


class ExperimentIn(_In):
    name: str = Field(min_length=1, max_length=200)
    kpis: list[str] = Field(min_length=1, max_length=15)
    a: ArmIn
    b: ArmIn
    start: AwareDatetime
    end: AwareDatetime | None = None
    mde: dict[str, float] = Field(default_factory=dict, description="minimum effect that matters per KPI "
                                  "(rates as fractions: 0.03 = 3 points; seconds; NPS points)")
    description: str = Field("", max_length=4000)


class ExperimentOut(_Out):
    id: str
    name: str
    kpis: list[str]
    a: dict[str, Any]
    b: dict[str, Any]
    start: AwareDatetime
    end: AwareDatetime | None = None
    mde: dict[str, float]
    stopped_at: AwareDatetime | None = None


class ExperimentResult(_Out):
    id: str
    name: str
    design: str
    evaluated_at: str
    a: dict[str, Any]
    b: dict[str, Any]
    kpis: dict[str, dict[str, Any]] = Field(description="per KPI: arms' values and n, diff, fixed and sequential "
                                            "tests, decision, verdict_en, verdict_zh, needed_per_arm, daily looks")


class ActionIn(_In):
    problem: str = Field(min_length=1, max_length=2000)
    fix: str = Field(min_length=1, max_length=2000)
    owner: str = Field(min_length=1, max_length=100)
    kpi: str
    horizon: Literal["short", "medium", "long"]
    teams: list[str] = Field(default_factory=list, max_length=50)
    target: float | None = None
    alert: str | None = Field(None, max_length=400, description="fingerprint of the alert that showed the problem")


class MoveIn(_In):
    move: Literal["adopt", "start", "land", "verify", "unverify", "reject"]
    note: str = Field("", max_length=2000)
    deadline: AwareDatetime | None = Field(None, description="adopt: within the horizon (default its longest)")


class ActionOut(_Out):
    id: str
    problem: str
    fix: str
    owner: str
    kpi: str
    horizon: str
    state: str
    deadline: AwareDatetime | None = None
    history: list[dict[str, Any]]


class ProgrammeKpis(_Out):
    actions: int
    by_state: dict[str, int]
    adoption_rate: float | None
    landing_rate: float | None
    verified_rate: float | None
    overdue: list[str]
