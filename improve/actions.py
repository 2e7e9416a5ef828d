"""Improvement actions (PDCA): a problem, its fix, an owner, a horizon with its deadline, the KPI it should move.

States and the moves between them (``MOVES``)::

    proposed ──► adopted ──► in_progress ──► landed ──► verified
        │           │            │              └─────► unverified   (the before/after check)
        └───────────┴────────────┴──► rejected

Adopting sets the deadline from the horizon (short: 7 days, medium: 1-4 weeks,
long: 1-3 months; a deadline given must fall in its horizon's range). Landing
stamps ``landed_at``; ``verify_days`` later the before/after check (same weekdays
and hours, ``improve.verify``) over the ``verify_days`` before and after landing
moves it to verified (the KPI moved the good way, surely) or unverified. The
programme's KPIs (``programme_kpis``) are the customer's: proposal adoption
(target >= 70 %), landing by the deadline (>= 90 %), share verified.

>>> from datetime import UTC, datetime
>>> t = datetime(2026, 3, 2, tzinfo=UTC)
>>> a = Action(id="a1", problem="long waits at lunch", fix="stagger breaks", owner="li", kpi="frt_avg_s",
...            horizon="short", created_at=t)
>>> a = move(a, "adopt", t, by="wang")
>>> a.state, a.deadline.date().isoformat()
('adopted', '2026-03-09')
>>> move(a, "verify", t)
Traceback (most recent call last):
...
ValueError: action a1: cannot verify an action that is adopted (from adopted: start, land, reject)
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta, tzinfo
from typing import Any, Literal

import msgspec

from improve.verify import HourSeries, stratified
from sqm.models import ALL, KPIS, Anomaly, AwareTime

State = Literal["proposed", "adopted", "in_progress", "landed", "verified", "unverified", "rejected"]
Horizon = Literal["short", "medium", "long"]

HORIZON_DAYS: dict[str, tuple[int, int]] = {"short": (1, 7), "medium": (7, 28), "long": (28, 92)}
"""Allowed deadline range after adoption, in days; the default deadline is the range's end."""

MOVES: dict[str, tuple[tuple[str, ...], State]] = {
    "adopt": (("proposed",), "adopted"),
    "start": (("adopted",), "in_progress"),
    "land": (("adopted", "in_progress"), "landed"),
    "verify": (("landed",), "verified"),
    "unverify": (("landed",), "unverified"),
    "reject": (("proposed", "adopted", "in_progress"), "rejected"),
}
"""move -> (the states it may be made from, the state it leads to)."""

OPEN_STATES = ("adopted", "in_progress")


class Event(msgspec.Struct, frozen=True, kw_only=True):
    at: AwareTime
    move: str
    by: str = ""
    note: str = ""


class Action(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    id: str
    problem: str
    fix: str
    owner: str
    kpi: str
    horizon: Horizon
    created_at: AwareTime
    teams: list[str] = msgspec.field(default_factory=list)
    target: float | None = None
    """The KPI's value the action should reach (default: the service standard's target, if any)."""
    alert: str | None = None
    """Fingerprint of the alert that showed the problem."""
    state: State = "proposed"
    deadline: AwareTime | None = None
    adopted_at: AwareTime | None = None
    landed_at: AwareTime | None = None
    verified_at: AwareTime | None = None
    verification: dict[str, Any] | None = None
    reminding: bool = False
    """An overdue reminder is firing in the alert engine (resolved when the action leaves the open states)."""
    history: list[Event] = msgspec.field(default_factory=list)

    @property
    def team(self) -> str:
        return self.teams[0] if len(self.teams) == 1 else ALL


def check(action: Action) -> None:
    if action.kpi not in KPIS:
        msg = f"kpi: unknown KPI {action.kpi!r} (known: {', '.join(KPIS)})"
        raise ValueError(msg)
    for name in ("problem", "fix", "owner"):
        if not getattr(action, name).strip():
            msg = f"{name}: must not be empty"
            raise ValueError(msg)


def move(action: Action, name: str, at: datetime, *, by: str = "", note: str = "",
         deadline: datetime | None = None) -> Action:
    """The action after one move (a new record); ValueError naming what is allowed otherwise."""
    if name not in MOVES:
        msg = f"action {action.id}: unknown move {name!r} (moves: {', '.join(MOVES)})"
        raise ValueError(msg)
    sources, to = MOVES[name]
    if action.state not in sources:
        allowed = [m for m, (src, _) in MOVES.items() if action.state in src]
        msg = (f"action {action.id}: cannot {name} an action that is {action.state} "
               f"(from {action.state}: {', '.join(allowed) or 'no move'})")
        raise ValueError(msg)
    changes: dict[str, Any] = {"state": to, "history": [*action.history, Event(at=at, move=name, by=by, note=note)]}
    if name == "adopt":
        lo, hi = HORIZON_DAYS[action.horizon]
        if deadline is not None and not at + timedelta(days=lo) <= deadline <= at + timedelta(days=hi):
            msg = f"deadline: a {action.horizon} action is due {lo} to {hi} days after adoption, got {deadline.isoformat()}"
            raise ValueError(msg)
        changes |= {"adopted_at": at, "deadline": deadline or at + timedelta(days=hi)}
    elif name == "land":
        changes["landed_at"] = at
    elif name in ("verify", "unverify"):
        changes["verified_at"] = at
    return msgspec.structs.replace(action, **changes)


def overdue(actions: Iterable[Action], now: datetime) -> list[Action]:
    """Adopted or started actions past their deadline."""
    return [a for a in actions if a.state in OPEN_STATES and a.deadline is not None and a.deadline < now]


def due_for_check(actions: Iterable[Action], now: datetime, verify_days: float) -> list[Action]:
    """Landed actions whose after period (``verify_days``) is complete."""
    return [a for a in actions if a.state == "landed" and a.landed_at is not None
            and a.landed_at + timedelta(days=verify_days) <= now]


def verification(action: Action, before: HourSeries, after: HourSeries, tz: tzinfo,
                 target: float | None) -> tuple[str, dict[str, Any]]:
    """The before/after check of a landed action: (``verify`` or ``unverify``, what it found)."""
    s = stratified(before, after, action.kpi, tz)
    bad = KPIS[action.kpi].bad
    if s is None:
        return "unverify", {"reason": "no comparable hours before and after landing", "kpi": action.kpi}
    lo, hi = s.ci()
    moved_well = (lo > 0) if bad == "down" else (hi < 0) if bad == "up" else False
    goal = target if target is not None else action.target
    meets = None if goal is None else (s.after >= goal if bad == "down" else s.after <= goal)
    found = {"kpi": action.kpi, "before": s.before, "after": s.after, "diff": s.diff, "ci": [lo, hi],
             "p_value": s.p_value, "cells": s.cells, "target": goal, "meets_target": meets,
             "moved_the_good_way": moved_well}
    return ("verify" if moved_well else "unverify"), found


def programme_kpis(actions: Iterable[Action], now: datetime) -> dict[str, Any]:
    """Adoption (adopted / decided proposals), landing (landed by the deadline / adopted and due), verified share."""
    acts = list(actions)
    decided = [a for a in acts if a.state != "proposed"]
    adopted = [a for a in acts if a.adopted_at is not None]
    due = [a for a in adopted if a.landed_at is not None or (a.deadline is not None and a.deadline < now)]
    on_time = [a for a in due if a.landed_at is not None and a.deadline is not None and a.landed_at <= a.deadline]
    checked = [a for a in acts if a.state in ("verified", "unverified")]

    def share(part: list[Action], whole: list[Action]) -> float | None:
        return len(part) / len(whole) if whole else None

    return {
        "actions": len(acts), "by_state": {s: sum(a.state == s for a in acts) for s in State.__args__},  # type: ignore[attr-defined]
        "adoption_rate": share(adopted, decided), "adoption_target": 0.70,
        "landing_rate": share(on_time, due), "landing_target": 0.90,
        "verified_rate": share([a for a in checked if a.state == "verified"], checked),
        "overdue": [a.id for a in overdue(acts, now)],
    }


def reminder(action: Action, now: datetime, *, resolved: bool = False) -> Anomaly:
    """The alert engine's input for an overdue action (detector ``action:<id>``: one alert per action)."""
    assert action.deadline is not None
    days = max(0.0, (now - action.deadline).total_seconds() / 86400)
    info = KPIS[action.kpi]
    return Anomaly(
        kpi=action.kpi, window="1h", team=action.team, start=action.deadline, end=now, value=round(days, 1),
        detector=f"action:{action.id}", severity="warning", direction="up",
        status="resolved" if resolved else "firing", incident_start=action.deadline,
        reason_en=f"Improvement action {action.id} ({info.en}: {action.fix}) owned by {action.owner} is "
                  f"{days:.0f} days past its deadline {action.deadline.date().isoformat()}",
        reason_zh=f"改进措施 {action.id}（{info.zh}：{action.fix}，负责人 {action.owner}）已超过截止日期 "
                  f"{action.deadline.date().isoformat()} {days:.0f} 天",
    )
