"""KPI totals: what a comparison needs of a period's data, per KPI, mergeable.

A ``Measure`` holds one KPI's counts over some hours: a rate's successes and
trials, a duration's sum and count (and its histogram when the source has the
sketch), NPS's net promoters and scores (and detractors when known), a count's
sum. ``Totals`` maps KPI names to measures; totals of hours merge by adding.
Each measure gives its value and, when the data allow, the variance of that value
(``value_var``), which is what the tests and the before/after check use.

>>> t = from_snapshot({"kpis": {"fcr_rate": 0.8, "frt_avg_s": 40.0, "volume": 12.0}, "n": {"fcr_rate": 10,
...                    "frt_avg_s": 5, "volume": 12}})
>>> t["fcr_rate"], [round(x, 4) for x in t["fcr_rate"].value_var()]
(Measure(kind='ratio', num=8.0, den=10, det=None, hist=None), [0.8, 0.016])
>>> merged = merge_totals([t, t]); merged["fcr_rate"].num, merged["frt_avg_s"].value(), merged["volume"].value()
(16.0, 40.0, 24.0)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sqm.models import KPIS

Kind = Literal["ratio", "mean", "nps", "count", "level"]

KIND_OF: dict[str, Kind] = {
    name: ("ratio" if info.unit == "ratio" else "mean" if info.unit == "seconds"
           else "nps" if info.unit == "score" else "level" if name == "backlog" else "count")
    for name, info in KPIS.items() if not name.endswith(("_p50_s", "_p90_s"))
}
"""How each KPI adds up over hours: rates and means by their counts, NPS by scores, volume by sum,
the backlog as the level at the period's end. Percentiles are not totals (a duration's test is on its
whole distribution: ``stats.durations``)."""


@dataclass(frozen=True, slots=True)
class Measure:
    """One KPI's counts; see the module docstring. ``det`` and ``hist`` are None when the source lacks them."""

    kind: Kind
    num: float
    """ratio: successes; mean: sum of values; nps: promoters - detractors; count/level: the sum / the level."""
    den: int
    """ratio: trials; mean: values; nps: scores; count/level: hours seen."""
    det: int | None = None
    """nps: detractors (their variance needs them)."""
    hist: tuple[tuple[float, int], ...] | None = None
    """mean: (value, count) sorted by value, from the sketch's bins."""

    def value(self) -> float | None:
        if self.kind in ("count", "level"):
            return self.num if self.den else None
        if not self.den:
            return None
        return 100.0 * self.num / self.den if self.kind == "nps" else self.num / self.den

    def value_var(self) -> tuple[float, float] | None:
        """(value, variance of the value) when the data allow a test; else None."""
        v = self.value()
        if v is None or self.den < 2:
            return None
        if self.kind == "ratio":
            return v, v * (1 - v) / self.den
        if self.kind == "nps" and self.det is not None:
            pro, det = (self.num + self.det) / self.den, self.det / self.den
            return v, 10_000 * (pro + det - (pro - det) ** 2) / self.den
        if self.kind == "mean" and self.hist:
            n = sum(c for _, c in self.hist)
            mean = sum(x * c for x, c in self.hist) / n
            var = sum(c * (x - mean) ** 2 for x, c in self.hist) / max(n - 1, 1)
            return v, var / self.den
        return None

    def histogram(self) -> dict[float, int]:
        return dict(self.hist or ())


Totals = dict[str, Measure]


def _merge_hist(a: tuple[tuple[float, int], ...] | None,
                b: tuple[tuple[float, int], ...] | None) -> tuple[tuple[float, int], ...] | None:
    if a is None or b is None:
        return None
    out: dict[float, int] = dict(a)
    for x, c in b:
        out[x] = out.get(x, 0) + c
    return tuple(sorted(out.items()))


def merge(a: Measure, b: Measure) -> Measure:
    """Two periods' counts of one KPI together (``b`` after ``a``: a level keeps ``b``'s)."""
    if a.kind != b.kind:
        msg = f"cannot merge a {a.kind} measure with a {b.kind} one"
        raise ValueError(msg)
    if a.kind == "level":
        return b if b.den else a
    det = None if a.det is None or b.det is None else a.det + b.det
    return Measure(a.kind, a.num + b.num, a.den + b.den, det, _merge_hist(a.hist, b.hist))


def merge_totals(parts: Iterable[Totals]) -> Totals:
    """Totals of several periods, oldest first."""
    out: Totals = {}
    for part in parts:
        for kpi, m in part.items():
            have = out.get(kpi)
            out[kpi] = m if have is None else merge(have, m)
    return out


def from_aggregate(agg: Any) -> Totals:
    """Totals of one ``sqm.aggregates.KpiAggregate`` (an hour or a day): a snapshot's, plus NPS's detractors
    and the first-response histogram, so that NPS and durations can be tested and percentiles merged."""
    out = from_snapshot({"kpis": agg.kpis, "n": agg.n})
    nps = out.get("nps")
    if nps is not None:
        out["nps"] = Measure("nps", float(round(nps.num)), nps.den, agg.nps_detractors)
    frt = out.get("frt_avg_s")
    if frt is not None and agg.frt_hist:
        out["frt_avg_s"] = Measure("mean", frt.num, frt.den, None, tuple((float(v), int(c)) for v, c in agg.frt_hist))
    return out


def quantile(hist: tuple[tuple[float, int], ...] | None, q: float) -> float | None:
    """The value at rank ``floor(q * (n - 1))`` of a sorted histogram (the sketch's rule); None when empty.

    >>> quantile(((1.0, 5), (2.0, 4), (9.0, 1)), 0.9)
    2.0
    """
    n = sum(c for _, c in hist or ())
    if not n:
        return None
    rank, cum = math.floor(q * (n - 1)), 0
    for value, c in hist or ():
        cum += c
        if cum > rank:
            return value
    return None


def from_snapshot(snap: Mapping[str, Any]) -> Totals:
    """Totals of one KPI snapshot (``{"kpis": …, "n": …}``): exact for rates, means and counts; NPS without
    its detractors and durations without their histogram (so neither can be tested from snapshots)."""
    out: Totals = {}
    for kpi, v in snap["kpis"].items():
        kind = KIND_OF.get(kpi)
        if kind is None or v is None:
            continue
        n = int(snap["n"].get(kpi, 0) or 0)
        if kind == "ratio":
            out[kpi] = Measure(kind, float(round(v * n)), n)
        elif kind == "mean":
            out[kpi] = Measure(kind, v * n, n)
        elif kind == "nps":
            out[kpi] = Measure(kind, v * n / 100.0, n)
        else:
            out[kpi] = Measure(kind, float(v), 1)
    return out
