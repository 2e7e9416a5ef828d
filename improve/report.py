"""What a quality report says: gathered from readers passed in, as plain data (``render`` draws it).

For one period (``improve.periods``) and one team or the whole centre (``*``):

- the KPIs against the customer's targets, and the change from the period before;
- a trend per KPI (hours in a day's report, days otherwise) for the charts;
- rankings of teams, channels and regions;
- the period's alerts with their time to acknowledge;
- SLA-clock compliance (answered in target, complaints answered in time, timeouts);
- experiments and improvement actions, with their verdicts, and the programme KPIs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any

from improve.actions import Action, programme_kpis
from improve.periods import bounds, kind_of, previous
from improve.totals import Totals, merge_totals
from sqm.models import ALL, KPIS, Alert

Reader = Callable[[str, str, str, datetime, datetime], Sequence[tuple[datetime, Totals]]]
"""(team, channel, region, since, until) -> buckets (hours or days) of totals, oldest first."""

REPORT_KPIS = ("volume", "frt_avg_s", "service_level", "timeout_rate", "abandon_rate", "fcr_rate", "aht_s", "csat",
               "nps", "complaint_rate", "complaint_timely_rate")
CHART_KPIS = ("volume", "frt_avg_s", "service_level", "fcr_rate", "csat", "complaint_rate")
SLA_KPIS = ("service_level", "complaint_timely_rate", "timeout_rate")
RANK_KPIS = ("volume", "service_level", "fcr_rate", "csat", "complaint_rate")


@dataclass
class ReportData:
    period: str
    kind: str
    team: str
    start: datetime
    end: datetime
    language: str
    kpis: list[dict[str, Any]] = field(default_factory=list)
    trends: dict[str, list[tuple[datetime, float | None]]] = field(default_factory=dict)
    rankings: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    sla: list[dict[str, Any]] = field(default_factory=list)
    experiments: list[dict[str, Any]] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)
    programme: dict[str, Any] = field(default_factory=dict)


def meets(kpi: str, value: float | None, target: float | None) -> bool | None:
    """Whether a value meets its target, by the KPI's bad direction; None without one of them."""
    if value is None or target is None:
        return None
    return value <= target if KPIS[kpi].bad == "up" else value >= target


def _values(totals: Totals) -> dict[str, float | None]:
    return {k: (m.value() if m is not None else None) for k, m in ((k, totals.get(k)) for k in REPORT_KPIS)}


def _trend(buckets: Iterable[tuple[datetime, Totals]], kpi: str, step: timedelta, start: datetime,
           tz: tzinfo) -> list[tuple[datetime, float | None]]:
    grouped: dict[datetime, list[Totals]] = {}
    for t, tot in buckets:
        local = t.astimezone(tz)
        key = local.replace(minute=0, second=0, microsecond=0) if step < timedelta(days=1) else \
            local.replace(hour=0, minute=0, second=0, microsecond=0)
        grouped.setdefault(key, []).append(tot)
    out = []
    for key in sorted(grouped):
        m = merge_totals(grouped[key]).get(kpi)
        out.append((key, m.value() if m else None))
    return out


def _ranking(read: Reader, dims: Iterable[tuple[str, str, str]], start: datetime, end: datetime,
             by: int) -> list[dict[str, Any]]:
    rows = []
    for d in dims:
        values = _values(merge_totals(t for _, t in read(*d, start, end)))
        if values.get("volume"):
            rows.append({"name": d[by], **{k: values.get(k) for k in RANK_KPIS}})
    return sorted(rows, key=lambda r: -(r["service_level"] or 0.0))


def _alerts(alerts: Iterable[Alert], start: datetime, end: datetime, team: str) -> list[dict[str, Any]]:
    out = []
    for a in alerts:
        if not start <= a.started_at < end or (team != ALL and a.anomaly.team not in (team, ALL)):
            continue
        ack_s = (a.acked_at - a.started_at).total_seconds() if a.acked_at else None
        out.append({"started_at": a.started_at, "kpi": a.anomaly.kpi, "team": a.anomaly.team,
                    "channel": a.anomaly.channel, "severity": a.anomaly.severity, "state": a.state,
                    "reason_en": a.anomaly.reason_en, "reason_zh": a.anomaly.reason_zh, "ack_s": ack_s,
                    "acked_by": a.acked_by})
    return sorted(out, key=lambda r: r["started_at"])


def build(period: str, team: str, *, read: Reader, tz: tzinfo, targets: Mapping[str, float],
          teams: Sequence[str], channels: Sequence[str], regions: Sequence[str], alerts: Iterable[Alert] = (),
          experiments: Iterable[dict[str, Any]] = (), actions: Iterable[Action] = (), now: datetime,
          language: str = "zh") -> ReportData:
    """The report of ``period`` for ``team`` (``*``: the whole centre)."""
    start, end = bounds(period, tz)
    p0, p1 = bounds(previous(period), tz)
    data = ReportData(period, kind_of(period), team, start, end, language)
    buckets = list(read(team, ALL, ALL, start, end))
    now_v = _values(merge_totals(t for _, t in buckets))
    before = _values(merge_totals(t for _, t in read(team, ALL, ALL, p0, p1)))
    for kpi in REPORT_KPIS:
        v, prev, target = now_v.get(kpi), before.get(kpi), targets.get(kpi)
        n = next((m.den for m in [merge_totals(t for _, t in buckets).get(kpi)] if m is not None), 0)
        data.kpis.append({"kpi": kpi, "value": v, "previous": prev, "target": target, "n": n,
                          "change": None if v is None or prev is None else v - prev, "meets": meets(kpi, v, target)})
    step = timedelta(hours=1) if data.kind == "day" else timedelta(days=1)
    data.trends = {kpi: _trend(buckets, kpi, step, start, tz) for kpi in CHART_KPIS}
    team_dims = [(t, ALL, ALL) for t in teams] if team == ALL else []
    data.rankings = {
        "team": _ranking(read, team_dims, start, end, 0),
        "channel": _ranking(read, [(team, c, ALL) for c in channels], start, end, 1),
        "region": _ranking(read, [(team, ALL, r) for r in regions], start, end, 2),
    }
    data.alerts = _alerts(alerts, start, end, team)
    data.sla = [row for row in data.kpis if row["kpi"] in SLA_KPIS]
    data.experiments = [e for e in experiments]
    acts = [a for a in actions if team == ALL or team in a.teams or not a.teams]
    data.actions = [{"id": a.id, "problem": a.problem, "fix": a.fix, "owner": a.owner, "kpi": a.kpi,
                     "state": a.state, "deadline": a.deadline, "verification": a.verification} for a in acts]
    data.programme = programme_kpis(acts, min(now, end))
    return data
