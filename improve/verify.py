"""Before/after with the season respected: compare the same hours of the same weekdays.

A contact center's KPIs follow the hour and the weekday (nights answer slower,
Mondays are busier). A period before a change and one after it rarely hold the
same mix of hours, so their plain totals differ even when nothing changed.
``stratified`` compares them cell by cell — cell = (weekday, hour) in the site's
time zone — and weights each cell by its share of the *after* period, i.e. it asks
"what would the after period have looked like with the before period's
performance?". Cells seen in only one period are left out (and counted).

>>> from datetime import UTC, datetime, timedelta
>>> from improve.totals import Measure
>>> t0 = datetime(2026, 3, 2, tzinfo=UTC)
>>> night = lambda x: {"fcr_rate": Measure("ratio", x, 100)}
>>> before = [(t0 + timedelta(hours=h), night(80.0 if h % 24 < 12 else 90.0)) for h in range(24)]
>>> after = [(t0 + timedelta(days=7, hours=h), night(83.0 if h % 24 < 12 else 93.0)) for h in range(24)]
>>> e = stratified(before, after, "fcr_rate", UTC)
>>> round(e.diff, 4), e.cells, e.dropped
(0.03, 24, 0)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

from scipy import stats as sps

from improve.totals import Measure, Totals, merge

HourSeries = Sequence[tuple[datetime, Totals]]
"""(hour start, totals of that hour), oldest first."""


@dataclass(frozen=True, slots=True)
class Stratified:
    """After minus before, standardised to the after period's mix of (weekday, hour) cells."""

    diff: float
    var: float
    before: float
    """The before period's value re-weighted to the after period's mix."""
    after: float
    n_before: int
    n_after: int
    cells: int
    dropped: int
    """Cells seen in only one of the periods (left out)."""

    def ci(self, alpha: float = 0.05) -> tuple[float, float]:
        z = float(sps.norm.ppf(1 - alpha / 2))
        half = z * math.sqrt(self.var)
        return self.diff - half, self.diff + half

    @property
    def p_value(self) -> float:
        return 1.0 if self.var <= 0 else float(2 * sps.norm.sf(abs(self.diff) / math.sqrt(self.var)))


def cells(hours: HourSeries, kpi: str, tz: tzinfo) -> dict[tuple[int, int], Measure]:
    """One KPI's measure per (weekday 0 = Monday, hour) in the site's time zone."""
    out: dict[tuple[int, int], Measure] = {}
    for start, totals in hours:
        m = totals.get(kpi)
        if m is None:
            continue
        local = start.astimezone(tz)
        key = (local.weekday(), local.hour)
        have = out.get(key)
        out[key] = m if have is None else merge(have, m)
    return out


def stratified(before: HourSeries, after: HourSeries, kpi: str, tz: tzinfo) -> Stratified | None:
    """The season-respecting difference, or None when no cell of both periods allows a test."""
    cb, ca = cells(before, kpi, tz), cells(after, kpi, tz)
    common = []
    for key in sorted(set(cb) & set(ca)):
        vb, va = cb[key].value_var(), ca[key].value_var()
        if vb is not None and va is not None:
            common.append((ca[key].den, vb, va, cb[key].den))
    if not common:
        return None
    weight_sum = sum(w for w, *_ in common)
    diff = var = before_v = after_v = 0.0
    for w, (b, b_var), (a, a_var), _ in common:
        share = w / weight_sum
        diff += share * (a - b)
        var += share * share * (a_var + b_var)
        before_v += share * b
        after_v += share * a
    dropped = len(set(cb) ^ set(ca))
    return Stratified(diff, var, before_v, after_v, sum(c[3] for c in common), int(weight_sum), len(common), dropped)
