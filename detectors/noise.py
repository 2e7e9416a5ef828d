"""How noisy one window's value of a KPI is, given its ``n``.

A +20 % swing of a 10 % timeout rate over 100 contacts is invisible (12 vs 10
timeouts), over 10,000 it is certain. The detectors therefore judge a change by
its size *and* by its evidence: the change in units of the sampling noise the
KPI has at that ``n``. Small counts are skewed (10 expected timeouts, 19 seen is
far likelier than a normal curve says), so the comparison is made on a
variance-stabilising scale, where the noise is close to normal and depends on
``n`` only:

============  ==========================  =====================  ==============
kind          KPIs                        scale g(value)         var of g
============  ==========================  =====================  ==============
``ratio``     timeout_rate, csat, ...     asin(sqrt(p))          1 / (4 n)
``seconds``   frt_avg_s, aht_s, ...       log(mean)              cv^2 / n
``count``     volume, backlog             sqrt(count)            1 / (4 windows)
``score``     nps (-100..100)             asin(sqrt((s+100)/200))  1 / (4 n), n ~ responses
============  ==========================  =====================  ==============

>>> z = zscore("ratio", y=0.13, n=2000, expected=0.10, n_base=6000)
>>> round(z, 2)
3.66
>>> kind_of("frt_p90_s"), cv_of("frt_p90_s")
('seconds', 2.0)
>>> round(inverse("ratio", scale("ratio", 0.25)), 6)
0.25
"""

from __future__ import annotations

import math
from typing import Literal

from sqm.models import KPIS

Kind = Literal["ratio", "seconds", "count", "score"]

# Coefficient of variation of one contact's value, for the mean-type KPIs. A
# percentile of n values is noisier than their mean; wait times are skewed.
_CV = {"frt_avg_s": 1.5, "frt_p50_s": 1.5, "frt_p90_s": 2.0, "aht_s": 1.0}
_FLOOR = 1e-9


def kind_of(kpi: str) -> Kind:
    """The sampling kind of a KPI (unknown KPIs are treated as means)."""
    info = KPIS.get(kpi)
    unit = info.unit if info is not None else "seconds"
    return "seconds" if unit not in ("ratio", "count", "score") else unit  # type: ignore[return-value]


def cv_of(kpi: str) -> float:
    return _CV.get(kpi, 1.0)


def scale(kind: str, value: float, n: float | None = None) -> float:
    """The variance-stabilising transform g of a value.

    With ``n``, a ratio gets Anscombe's correction ``(k + 3/8) / (n + 3/4)``, which
    keeps 0 of 20 from looking as sure as 0 of 2,000.
    """
    if kind == "ratio":
        p = min(max(value, 0.0), 1.0)
        if n is not None and n > 0:
            p = (p * n + 0.375) / (n + 0.75)
        return math.asin(math.sqrt(p))
    if kind == "score":
        return math.asin(math.sqrt(min(max((value + 100.0) / 200.0, 0.0), 1.0)))
    if kind == "count":
        return math.sqrt(max(value, 0.0))
    return math.log(max(value, _FLOOR))


def inverse(kind: str, g: float) -> float:
    """g^-1: back from the stable scale to the KPI's unit."""
    if kind in ("ratio", "score"):
        g = min(max(g, 0.0), math.pi / 2)
        p = math.sin(g) ** 2
        return p if kind == "ratio" else p * 200.0 - 100.0
    if kind == "count":
        return max(g, 0.0) ** 2
    return math.exp(g)


RHYTHM_LIMITS = {"ratio": (0.125, 8.0)}
"""Least and greatest rhythm factor per kind (others: 0.5 and 2); a ratio's is a factor on its odds."""


def rhythm_factor(kind: str, now: float, then: float) -> float:
    """The factor that carries a KPI's usual value at one time (``then``) to another time's (``now``).

    For a ratio it is a factor on the odds, for other kinds on the value, within
    ``RHYTHM_LIMITS`` (1 when either value is out of range). An FCR that rises from
    58 % at 02:00 to 90 % at 09:00 has odds 1.4 and 9.0: a factor of 6.5.

    >>> rhythm_factor("seconds", 150.0, 100.0), round(rhythm_factor("ratio", 0.90, 0.58), 2)
    (1.5, 6.52)
    """
    if kind == "ratio":
        if not (0.0 < now < 1.0 and 0.0 < then < 1.0):
            return 1.0
        factor = (now / (1.0 - now)) / (then / (1.0 - then))
    else:
        if now <= 0.0 or then <= 0.0:
            return 1.0
        factor = now / then
    low, high = RHYTHM_LIMITS.get(kind, (0.5, 2.0))
    return min(high, max(low, factor))


def carry(kind: str, value: float, factor: float) -> float:
    """``value`` moved by a rhythm ``factor`` (:func:`rhythm_factor`): a ratio's odds times it, others times it.

    On the odds a ratio stays below 1, and a level that is a little off at one time
    stays a little off at another: an FCR 6 % above the usual night's (62 % against
    58 %) is carried to 91 % at 09:00, where 90 % is usual, not to 96 %.

    >>> carry("seconds", 100.0, 1.5), round(carry("ratio", 0.62, 6.52), 3), round(carry("ratio", 0.1, 1.0), 3)
    (150.0, 0.914, 0.1)
    """
    if factor == 1.0:
        return value
    if kind == "ratio":
        if not 0.0 < value < 1.0:
            return value
        odds = value / (1.0 - value) * factor
        return odds / (1.0 + odds)
    return value * factor


def variance(kind: str, n: float, cv: float = 1.0) -> float:
    """Variance of g(value) for one window whose denominator is ``n``."""
    n = max(float(n), 1.0)
    if kind in ("ratio", "score"):
        return 0.25 / n
    if kind == "count":
        return 0.25 / n  # n = number of windows averaged (1 for the current one)
    return cv * cv / n


def zscore(kind: str, y: float, n: float, expected: float, n_base: float, cv: float = 1.0) -> float:
    """(g(y) - g(expected)) in sd of the current window's and the baseline's noise."""
    var = variance(kind, n, cv) + variance(kind, n_base, cv)
    return (scale(kind, y, n) - scale(kind, expected, n_base)) / math.sqrt(var)
