"""Experiments: two arms compared KPI by KPI, looked at once a day, judged by the always-valid test.

An arm is a KPI series (team, channel, region; ``*`` = all) over a period: either
the experiment's period (an A/B test: a pilot team against another, at the same
time) or its own (before/after: the same team before and after the change, where
the comparison respects hour and weekday, see ``improve.verify``). ``evaluate``
builds each day's cumulative look from hourly totals, runs the mSPRT over the looks,
and gives per KPI: both arms' values and n, the one-look estimate with the test fit
for the KPI, the always-valid interval, the verdict in words and the sample still
needed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any, Literal

import msgspec

from improve import stats as S
from improve.totals import KIND_OF, Measure, Totals, merge_totals
from improve.verdict import words
from improve.verify import HourSeries, stratified
from sqm.models import ALL, KPIS, AwareTime, Name

Selector = Callable[[str, str, str, datetime, datetime], HourSeries]
"""(team, channel, region, since, until) -> that series' hourly totals."""


class Arm(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One side of a comparison: a series and, for before/after, its own period."""

    label: str = ""
    team: Name | Literal["*"] = ALL
    channel: Name | Literal["*"] = ALL
    region: Name | Literal["*"] = ALL
    since: AwareTime | None = None
    until: AwareTime | None = None

    @property
    def dims(self) -> tuple[str, str, str]:
        return (self.team, self.channel, self.region)


class Experiment(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    id: str
    name: str
    kpis: list[str]
    a: Arm
    b: Arm
    start: AwareTime
    end: AwareTime | None = None
    mde: dict[str, float] = msgspec.field(default_factory=dict)
    """The minimum effect that matters per KPI (rate points as fractions: 0.03 = 3 points; seconds; NPS points)."""
    description: str = ""
    created_by: str = ""
    created_at: AwareTime | None = None
    stopped_at: AwareTime | None = None

    @property
    def before_after(self) -> bool:
        return self.a.since is not None or self.b.since is not None


def check(exp: Experiment) -> None:
    """Refuse an experiment that cannot be evaluated, naming the field."""
    unknown = [k for k in exp.kpis if k not in KIND_OF]
    if not exp.kpis or unknown:
        msg = f"kpis: name KPIs to compare (known: {', '.join(KIND_OF)}), got {exp.kpis}"
        raise ValueError(msg)
    bad_mde = {k: v for k, v in exp.mde.items() if k not in exp.kpis or not v > 0}
    if bad_mde:
        msg = f"mde: a positive minimum effect per compared KPI, got {bad_mde}"
        raise ValueError(msg)
    if exp.end is not None and exp.end <= exp.start:
        msg = f"end: must be after start ({exp.start.isoformat()}), got {exp.end.isoformat()}"
        raise ValueError(msg)
    if exp.before_after:
        if exp.a.since is None or exp.a.until is None:
            msg = "a.since/a.until: a before/after experiment needs the before period"
            raise ValueError(msg)
        if exp.a.until > (exp.b.since or exp.start):
            msg = "a.until: the before period must end when the after period starts"
            raise ValueError(msg)
    elif exp.a.dims == exp.b.dims:
        msg = "b: an A/B test compares two different series (or give arm A a before period)"
        raise ValueError(msg)


def default_mde(kpi: str, reference: float | None) -> float:
    """3 points for a rate, 5 NPS points, 10 % of the reference for a duration or count."""
    kind = KIND_OF[kpi]
    if kind == "ratio":
        return 0.03
    if kind == "nps":
        return 5.0
    return max(abs(reference or 0.0) * 0.10, 1e-9)


@dataclass(frozen=True, slots=True)
class Look:
    day: datetime
    diff: float
    lo: float
    hi: float


def _fixed(kpi: str, a: Measure, b: Measure, alpha: float) -> S.Estimate | None:
    kind = KIND_OF[kpi]
    if kind == "ratio" and a.den and b.den:
        return S.two_proportions(int(a.num), a.den, int(b.num), b.den, alpha)
    if kind == "nps" and a.det is not None and b.det is not None and a.den and b.den:
        return S.nps_difference(int(a.num + a.det), a.det, a.den, int(b.num + b.det), b.det, b.den, alpha)
    if kind == "mean" and a.hist and b.hist and a.den > 1 and b.den > 1:
        return S.durations(a.histogram(), b.histogram(), alpha)
    return None


def _arm_hours(hours: HourSeries, since: datetime, until: datetime) -> list[tuple[datetime, Totals]]:
    return [(t, tot) for t, tot in hours if since <= t < until]


def _periods(exp: Experiment, now: datetime) -> tuple[tuple[datetime, datetime], tuple[datetime, datetime]]:
    end = min(exp.end or now, exp.stopped_at or now, now)
    if exp.before_after:
        assert exp.a.since is not None and exp.a.until is not None
        b_since = exp.b.since or exp.start
        return (exp.a.since, exp.a.until), (b_since, min(exp.b.until or end, end))
    return (exp.start, end), (exp.start, end)


def _diff_var(exp: Experiment, kpi: str, hours_a: HourSeries, hours_b: HourSeries,
              tz: tzinfo) -> tuple[float, float] | None:
    if exp.before_after:
        s = stratified(hours_a, hours_b, kpi, tz)
        return None if s is None else (s.diff, s.var)
    ma, mb = merge_totals(t for _, t in hours_a).get(kpi), merge_totals(t for _, t in hours_b).get(kpi)
    va, vb = (ma.value_var() if ma else None), (mb.value_var() if mb else None)
    return None if va is None or vb is None else (vb[0] - va[0], va[1] + vb[1])


def day_ends(start: datetime, end: datetime, tz: tzinfo) -> list[datetime]:
    """Each local midnight after ``start`` up to ``end``, and ``end`` itself (the looks of a daily peek)."""
    local = start.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)
    out = []
    day = local + timedelta(days=1)
    while day < end:
        out.append(day)
        day = (day.replace(tzinfo=None) + timedelta(days=1)).replace(tzinfo=tz)
    out.append(end.astimezone(tz))
    return out


def evaluate(exp: Experiment, series: Selector, *, now: datetime, tz: tzinfo, alpha: float = 0.05,
             names: tuple[str, str] = ("A", "B")) -> dict[str, Any]:
    """The experiment's result per KPI (a JSON-ready dict; ``improve.verdict`` words it)."""
    (a0, a1), (b0, b1) = _periods(exp, now)
    hours_a = list(series(*exp.a.dims, a0, a1))
    hours_b = list(series(*exp.b.dims, b0, b1))
    label_a, label_b = exp.a.label or names[0], exp.b.label or names[1]
    out: dict[str, Any] = {"id": exp.id, "name": exp.name, "evaluated_at": now.isoformat(),
                           "a": {"label": label_a, "since": a0.isoformat(), "until": a1.isoformat()},
                           "b": {"label": label_b, "since": b0.isoformat(), "until": b1.isoformat()},
                           "design": "before/after (same weekday and hour)" if exp.before_after else "A/B",
                           "kpis": {}}
    for kpi in exp.kpis:
        out["kpis"][kpi] = _evaluate_kpi(exp, kpi, hours_a, hours_b, (b0, b1), tz, alpha, (label_a, label_b))
    return out


def _evaluate_kpi(exp: Experiment, kpi: str, hours_a: HourSeries, hours_b: HourSeries,
                  period_b: tuple[datetime, datetime], tz: tzinfo, alpha: float,
                  labels: tuple[str, str]) -> dict[str, Any]:
    ma = merge_totals(t for _, t in hours_a).get(kpi)
    mb = merge_totals(t for _, t in hours_b).get(kpi)
    value_a, value_b = (ma.value() if ma else None), (mb.value() if mb else None)
    mde = exp.mde.get(kpi) or default_mde(kpi, value_a)
    seq = S.Sequential(tau=mde, alpha=alpha)
    looks: list[Look] = []
    for day in day_ends(period_b[0], period_b[1], tz):
        cut_a = hours_a if exp.before_after else _arm_hours(hours_a, period_b[0], day)
        dv = _diff_var(exp, kpi, cut_a, _arm_hours(hours_b, period_b[0], day), tz)
        if dv is not None:
            lo, hi = seq.look(*dv)
            looks.append(Look(day, dv[0], lo, hi))
    fixed = _fixed(kpi, ma, mb, alpha) if ma and mb and not exp.before_after else None
    diff = looks[-1].diff if looks else None
    n_a, n_b = (ma.den if ma else 0), (mb.den if mb else 0)
    needed = None
    if looks and not seq.significant:
        dv = _diff_var(exp, kpi, hours_a, hours_b, tz)
        if dv is not None and n_a and n_b:
            unit = dv[1] * min(n_a, n_b)
            needed = S.needed_per_arm(unit, mde, mde, alpha, have=min(n_a, n_b))
    result: dict[str, Any] = {
        "kpi": kpi, "unit": KPIS[kpi].unit, "a": {"value": value_a, "n": n_a}, "b": {"value": value_b, "n": n_b},
        "diff": diff, "mde": mde, "alpha": alpha,
        "fixed": None if fixed is None else {"ci": list(fixed.ci), "p_value": fixed.p_value, "test": fixed.test},
        "sequential": {"lo": _finite(seq.lo), "hi": _finite(seq.hi), "p_value": seq.p_value,
                       "significant": seq.significant, "test": "mSPRT (normal mixture), daily looks"},
        "needed_per_arm": needed,
        "looks": [{"day": lk.day.isoformat(), "diff": lk.diff, "lo": _finite(lk.lo), "hi": _finite(lk.hi)}
                  for lk in looks],
    }
    result["decision"] = decision(result)
    result["verdict_en"], result["verdict_zh"] = words(result, labels)
    return result


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def decision(r: dict[str, Any]) -> Literal["stop_effect", "stop_no_effect", "continue", "no_data"]:
    """``stop_effect`` (significant), ``stop_no_effect`` (the interval lies within ± mde), ``continue``."""
    seq = r["sequential"]
    if r["diff"] is None or seq["lo"] is None:
        return "no_data"
    if seq["significant"]:
        return "stop_effect"
    if -r["mde"] < seq["lo"] and seq["hi"] < r["mde"]:
        return "stop_no_effect"
    return "continue"
