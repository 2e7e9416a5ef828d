"""A labelled incident suite: per-minute KPI counts of one team, drawn from the simulator's rhythm.

Fast enough for weeks x many seeds: contacts per minute follow the simulator's
daily and weekly profile (``sim.simulator``) at a given mean volume; per
contact the true timeout rate, CSAT, complaint rate and first-response time are
those of the simulator's defaults, changed by the incident. Counts are drawn per
minute (Poisson contacts, binomial outcomes, the mean FRT of the minute's
contacts), then rolled into the same rolling 60-minute snapshots the dataflow
emits. The truth (rates before/after) is kept for the CUSUM oracle.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone

import numpy as np

from sim.params import DAILY_PROFILE, HOLIDAY_FACTOR, WEEKLY_PROFILE
from sqm.models import KpiSnapshot

CST = timezone(timedelta(hours=8))
BASE = {"timeout_rate": 0.10, "csat": 0.90, "complaint_rate": 0.015, "frt_avg_s": 40.0, "volume": 1.0}
SURVEY_RATE = 0.30
FRT_CV = 1.5


def add_set_option(ap: argparse.ArgumentParser) -> None:
    """``--set KEY=JSON`` (repeatable): any detectors setting for a bench run; read with :func:`parse_set`."""
    ap.add_argument("--set", action="append", default=[], metavar="KEY=JSON",
                    help="any other detectors setting, e.g. --set persistence=2 --set 'drift=[\"timeout_rate\"]'")


def parse_set(items: list[str]) -> dict:
    """The detectors settings given with ``--set``: ``["persistence=2"]`` -> ``{"persistence": 2}``."""
    return {k: json.loads(v) for k, v in (item.split("=", 1) for item in items)}


@dataclass(frozen=True)
class Incident:
    kind: str  # a label for the table
    kpi: str
    factor: float  # multiplier at full strength
    start_min: int  # minutes from the series start
    length_min: int
    ramp_min: int = 0  # a slow drift reaches full strength after this many minutes

    def factor_at(self, m: int) -> float:
        if not self.start_min <= m < self.start_min + self.length_min:
            return 1.0
        if self.ramp_min <= 0:
            return self.factor
        return 1.0 + (self.factor - 1.0) * min(1.0, (m - self.start_min) / self.ramp_min)


KINDS: dict[str, tuple[str, float, int, int]] = {
    # kind: (kpi, factor, minutes, ramp minutes)
    "timeout +20% 4h": ("timeout_rate", 1.2, 240, 0),
    "timeout +40% 2h": ("timeout_rate", 1.4, 120, 0),
    "timeout +40% 45m": ("timeout_rate", 1.4, 45, 0),
    "FRT x1.6 1h": ("frt_avg_s", 1.6, 60, 0),
    "CSAT -10% 4h": ("csat", 0.9, 240, 0),
    "complaints x2 3h": ("complaint_rate", 2.0, 180, 0),
    "volume x1.6 2h": ("volume", 1.6, 120, 0),
    "volume x0.5 2h": ("volume", 0.5, 120, 0),
    "timeout drift +50%/12h": ("timeout_rate", 1.5, 24 * 60, 12 * 60),
}


@dataclass
class Series:
    start: datetime
    per_hour: float
    minutes: int
    incidents: list[Incident] = field(default_factory=list)
    holidays: frozenset[date] = frozenset()

    def rhythm(self, m: int) -> float:
        local = self.start + timedelta(minutes=m + 0.5)
        hour = local.hour + local.minute / 60 - 0.5
        lo = math.floor(hour)
        frac = hour - lo
        day_f = DAILY_PROFILE[lo % 24] * (1 - frac) + DAILY_PROFILE[(lo + 1) % 24] * frac
        week_f = HOLIDAY_FACTOR if local.date() in self.holidays else WEEKLY_PROFILE[local.weekday()]
        return day_f * week_f

    def truth(self, kpi: str, m: int) -> float:
        f = 1.0
        for inc in self.incidents:
            if inc.kpi == kpi:
                f *= inc.factor_at(m)
        value = BASE[kpi] * f
        return min(value, 1.0) if kpi in ("timeout_rate", "csat", "complaint_rate") else value

    def contacts_per_min(self, m: int) -> float:
        return self.per_hour / 60 * self.rhythm(m) * self.truth("volume", m)


def incidents_for(kind: str, days: int, rng: np.random.Generator) -> list[Incident]:
    """One incident of ``kind`` per weekday, starting in business hours (09:00-15:00), none on weekends."""
    kpi, factor, length, ramp = KINDS[kind]
    out = []
    every = max(1, math.ceil((length + 6 * 60) / (24 * 60)))  # leave 6 h of calm after each one
    for d in range(1, days, every):  # day 0 is the cold start
        if d % 7 >= 5:
            continue
        start = d * 24 * 60 + 9 * 60 + int(rng.integers(0, 6 * 60))
        if start + length + 60 < days * 24 * 60:
            out.append(Incident(kind, kpi, factor, start, length, ramp))
    return out


def snapshots(
    series: Series, seed: int, team: str = "billing", window: str = "60m", evidence: str | None = None
) -> Iterator[KpiSnapshot]:
    """Rolling 60-minute snapshots, one per minute, like the dataflow's ``60m`` window (or ``5m``/``1m`` tumbling).

    With ``evidence`` (``1m``/``5m``), that tumbling window's snapshots come too, each just before the
    detector window's snapshot that ends with it (the CUSUMs' per-contact evidence).
    """
    rng = np.random.default_rng(seed)
    mins = series.minutes
    lam = np.array([series.contacts_per_min(m) for m in range(mins)])
    n = rng.poisson(lam)
    p_to = np.array([series.truth("timeout_rate", m) for m in range(mins)])
    p_cs = np.array([series.truth("csat", m) for m in range(mins)])
    p_cp = np.array([series.truth("complaint_rate", m) for m in range(mins)])
    mu = np.array([series.truth("frt_avg_s", m) for m in range(mins)])
    late = rng.binomial(n, p_to)
    surveys = rng.binomial(n, SURVEY_RATE)
    happy = rng.binomial(surveys, p_cs)
    complaints = rng.binomial(n, p_cp)
    # sum of n lognormal waits with mean mu and cv FRT_CV ~ normal(n mu, cv mu sqrt(n)), kept >= 0
    frt_sum = np.maximum(0.0, rng.normal(n * mu, FRT_CV * mu * np.sqrt(np.maximum(n, 1))))
    cols = [np.concatenate([[0], np.cumsum(a)]) for a in (n, late, surveys, happy, complaints, frt_sum)]
    t0 = series.start.astimezone(UTC)
    windows = [w for w in (evidence, window) if w]
    for m in range(mins):
        for w in windows:
            size = {"5m": 5, "1m": 1}.get(w, 60)
            if size < 60 and (m + 1) % size:
                continue
            lo = max(0, m - size + 1)
            c_n, c_late, c_sv, c_hp, c_cp, c_frt = (float(c[m + 1] - c[lo]) for c in cols)
            end = t0 + timedelta(minutes=m + 1)
            yield KpiSnapshot(
                window=w if size < 60 else "60m",
                start=end - timedelta(minutes=size),
                end=end,
                team=team,
                kpis={
                    "volume": c_n,
                    "timeout_rate": c_late / c_n if c_n else None,
                    "csat": c_hp / c_sv if c_sv else None,
                    "complaint_rate": c_cp / c_n if c_n else None,
                    "frt_avg_s": c_frt / c_n if c_n else None,
                },
                n={"volume": int(c_n), "timeout_rate": int(c_n), "csat": int(c_sv), "complaint_rate": int(c_n),
                   "frt_avg_s": int(c_n)},
            )


def kl_per_contact(kpi: str, before: float, after: float) -> float:
    """Kullback-Leibler divergence of one contact's evidence, after vs before (nats)."""
    if kpi in ("timeout_rate", "complaint_rate", "csat"):
        p1, p0 = after, before
        kl = p1 * math.log(p1 / p0) + (1 - p1) * math.log((1 - p1) / (1 - p0))
        return kl * (SURVEY_RATE if kpi == "csat" else 1.0)
    if kpi == "frt_avg_s":
        return (after - before) ** 2 / (2 * (FRT_CV * before) ** 2)
    if kpi == "volume":  # per contact at the old rate: Poisson KL per unit of rate
        r = after / before
        return r * math.log(r) - (r - 1)
    msg = f"no KL for {kpi}"
    raise ValueError(msg)
