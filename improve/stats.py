"""The statistics of a comparison between two arms, pure functions of counts.

Fixed-horizon estimates (one look at the data):

- ``two_proportions`` — rates: the difference ``p_b - p_a`` with Newcombe's hybrid
  score interval (built from two Wilson intervals) and the pooled two-proportion z-test;
- ``mean_difference`` — durations: Welch's interval and t-test on means and variances;
- ``mann_whitney`` — durations as histograms (a sketch's bins): the rank-sum test with
  ties, exactly as on the expanded values (normal approximation, continuity corrected);
- ``nps_difference`` — NPS = 100 (promoters - detractors) / n by its own variance
  (a three-valued score: +100, 0, -100).

The always-valid test (``Sequential``): supervisors look every day, so each look is
judged with the mixture sequential probability ratio test (mSPRT, normal mixture
with variance ``tau**2``, Johari et al. 2017) on the estimate and its variance; its
confidence sequence holds at every look at once with probability ``1 - alpha``, so
peeking does not inflate false wins. The sequence is intersected over the looks.

>>> e = two_proportions(820, 1000, 861, 1000)
>>> round(e.diff, 3), [round(x, 4) for x in e.ci], round(e.p_value, 4)
(0.041, [0.0089, 0.0731], 0.0123)
>>> s = Sequential(tau=0.03)
>>> lo, hi = s.look(e.diff, e.se ** 2)
>>> round(lo, 4), round(hi, 4), s.significant
(-0.0099, 0.0919, False)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from scipy import stats as sps


@dataclass(frozen=True, slots=True)
class Estimate:
    """Arm B minus arm A: the difference, its standard error, a ``1 - alpha`` interval and a p-value."""

    diff: float
    se: float
    ci: tuple[float, float]
    p_value: float
    test: str


def _z(alpha: float) -> float:
    return float(sps.norm.ppf(1 - alpha / 2))


def _check_counts(x: int, n: int, what: str) -> None:
    if n <= 0 or x < 0 or x > n:
        msg = f"{what}: need 0 <= successes <= n and n > 0, got {x} of {n}"
        raise ValueError(msg)


def wilson(x: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson's score interval of one proportion.

    >>> [round(v, 4) for v in wilson(8, 10)]
    [0.4902, 0.9433]
    """
    _check_counts(x, n, "wilson")
    z = _z(alpha)
    p = x / n
    mid = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, mid - half), min(1.0, mid + half)


def two_proportions(x_a: int, n_a: int, x_b: int, n_b: int, alpha: float = 0.05) -> Estimate:
    """``p_b - p_a`` with Newcombe's interval and the pooled z-test (two-sided)."""
    _check_counts(x_a, n_a, "arm A")
    _check_counts(x_b, n_b, "arm B")
    p_a, p_b = x_a / n_a, x_b / n_b
    diff = p_b - p_a
    l_a, u_a = wilson(x_a, n_a, alpha)
    l_b, u_b = wilson(x_b, n_b, alpha)
    lo = diff - math.sqrt((p_b - l_b) ** 2 + (u_a - p_a) ** 2)
    hi = diff + math.sqrt((u_b - p_b) ** 2 + (p_a - l_a) ** 2)
    pooled = (x_a + x_b) / (n_a + n_b)
    se0 = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    p_value = 1.0 if se0 == 0 else float(2 * sps.norm.sf(abs(diff) / se0))
    se = math.sqrt(p_a * (1 - p_a) / n_a + p_b * (1 - p_b) / n_b)
    return Estimate(diff, se, (lo, hi), p_value, "two-proportion z-test, Newcombe interval")


def mean_difference(n_a: int, mean_a: float, var_a: float, n_b: int, mean_b: float, var_b: float,
                    alpha: float = 0.05) -> Estimate:
    """``mean_b - mean_a`` with Welch's interval and t-test (sample variances, ``ddof=1``)."""
    if n_a < 2 or n_b < 2:
        msg = f"mean_difference: each arm needs at least 2 values, got {n_a} and {n_b}"
        raise ValueError(msg)
    va, vb = var_a / n_a, var_b / n_b
    se = math.sqrt(va + vb)
    diff = mean_b - mean_a
    if se == 0:
        return Estimate(diff, 0.0, (diff, diff), 1.0 if diff == 0 else 0.0, "Welch t-test")
    df = (va + vb) ** 2 / (va * va / (n_a - 1) + vb * vb / (n_b - 1))
    t = float(sps.t.ppf(1 - alpha / 2, df))
    p_value = float(2 * sps.t.sf(abs(diff) / se, df))
    return Estimate(diff, se, (diff - t * se, diff + t * se), p_value, "Welch t-test")


Histogram = Mapping[float, int]
"""Value -> how many times it was seen (a sketch's bins, each reported as its value)."""


def moments(hist: Histogram) -> tuple[int, float, float]:
    """``(n, mean, sample variance)`` of a histogram.

    >>> moments({1.0: 2, 4.0: 1})
    (3, 2.0, 3.0)
    """
    n = sum(hist.values())
    if n == 0:
        return 0, math.nan, math.nan
    mean = sum(v * c for v, c in hist.items()) / n
    ss = sum(c * (v - mean) ** 2 for v, c in hist.items())
    return n, mean, ss / (n - 1) if n > 1 else math.nan


def mann_whitney(hist_a: Histogram, hist_b: Histogram) -> tuple[float, float]:
    """``(U of arm B, two-sided p)`` of the rank-sum test on two histograms, ties averaged.

    The same U and p as ``scipy.stats.mannwhitneyu(b, a, method="asymptotic")`` on the
    expanded values, without expanding them.
    """
    n_a, n_b = sum(hist_a.values()), sum(hist_b.values())
    if n_a == 0 or n_b == 0:
        msg = f"mann_whitney: both arms need values, got {n_a} and {n_b}"
        raise ValueError(msg)
    u_b = 0.0
    below_a = 0
    ties = 0.0
    for v in sorted(set(hist_a) | set(hist_b)):
        ca, cb = hist_a.get(v, 0), hist_b.get(v, 0)
        u_b += cb * (below_a + 0.5 * ca)
        below_a += ca
        t = ca + cb
        ties += t**3 - t
    n = n_a + n_b
    mu = n_a * n_b / 2
    var = n_a * n_b / 12 * ((n + 1) - ties / (n * (n - 1)))
    if var <= 0:
        return u_b, 1.0
    z = (abs(u_b - mu) - 0.5) / math.sqrt(var)
    return u_b, float(min(1.0, 2 * sps.norm.sf(max(z, 0.0))))


def durations(hist_a: Histogram, hist_b: Histogram, alpha: float = 0.05) -> Estimate:
    """Mean difference (Welch) of two histograms, with the Mann–Whitney p-value (robust to the long tail)."""
    n_a, m_a, v_a = moments(hist_a)
    n_b, m_b, v_b = moments(hist_b)
    est = mean_difference(n_a, m_a, v_a, n_b, m_b, v_b, alpha)
    _, p = mann_whitney(hist_a, hist_b)
    return Estimate(est.diff, est.se, est.ci, p, "Mann–Whitney U, Welch interval")


def nps_difference(pro_a: int, det_a: int, n_a: int, pro_b: int, det_b: int, n_b: int,
                   alpha: float = 0.05) -> Estimate:
    """NPS of B minus NPS of A (points), with the variance of a +100/0/-100 score."""
    for pro, det, n, name in ((pro_a, det_a, n_a, "A"), (pro_b, det_b, n_b, "B")):
        if n <= 0 or pro < 0 or det < 0 or pro + det > n:
            msg = f"nps arm {name}: need promoters + detractors <= n and n > 0, got {pro} + {det} of {n}"
            raise ValueError(msg)

    def arm(pro: int, det: int, n: int) -> tuple[float, float]:
        p, d = pro / n, det / n
        return 100 * (p - d), 10_000 * (p + d - (p - d) ** 2) / n

    s_a, v_a = arm(pro_a, det_a, n_a)
    s_b, v_b = arm(pro_b, det_b, n_b)
    diff, se = s_b - s_a, math.sqrt(v_a + v_b)
    z = _z(alpha)
    p_value = 1.0 if se == 0 else float(2 * sps.norm.sf(abs(diff) / se))
    return Estimate(diff, se, (diff - z * se, diff + z * se), p_value, "NPS z-test (score variance)")


# --- the always-valid sequential test ------------------------------------------------


def msprt_ratio(diff: float, var: float, tau: float) -> float:
    """The mixture likelihood ratio of H1 (effect ~ N(0, tau^2)) to H0 (no effect) at one look.

    >>> round(msprt_ratio(0.0, 1e-4, 0.02), 4), round(msprt_ratio(0.05, 1e-4, 0.02), 1)
    (0.4472, 9850.5)
    """
    if var <= 0:
        return math.inf if diff else 1.0
    t2 = tau * tau
    return math.sqrt(var / (var + t2)) * math.exp(diff * diff * t2 / (2 * var * (var + t2)))


def cs_half_width(var: float, tau: float, alpha: float = 0.05) -> float:
    """Half-width of the mSPRT's confidence sequence at one look: every effect closer than this is not rejected."""
    if var <= 0:
        return 0.0
    t2 = tau * tau
    return math.sqrt(var * (var + t2) / t2 * (2 * math.log(1 / alpha) + math.log((var + t2) / var)))


@dataclass
class Sequential:
    """An always-valid test over repeated looks; ``look`` once per look (e.g. once a day).

    ``tau`` is the scale of the effects expected (the minimum effect that matters is a
    good choice). ``significant`` once the intersected sequence excludes 0; ``p_value``
    is the always-valid p-value ``min over looks of 1 / ratio``.
    """

    tau: float
    alpha: float = 0.05
    lo: float = -math.inf
    hi: float = math.inf
    p_value: float = 1.0
    looks: list[tuple[float, float, float]] = field(default_factory=list)
    """Per look: (estimate, lower, upper) of the intersected sequence."""

    def __post_init__(self) -> None:
        if not self.tau > 0 or not 0 < self.alpha < 1:
            msg = f"Sequential: need tau > 0 and 0 < alpha < 1, got tau={self.tau}, alpha={self.alpha}"
            raise ValueError(msg)

    def look(self, diff: float, var: float) -> tuple[float, float]:
        half = cs_half_width(var, self.tau, self.alpha)
        self.lo = max(self.lo, diff - half)
        self.hi = min(self.hi, diff + half)
        if self.lo > self.hi:  # crossing bounds: an estimate jumped; keep the newest look's interval
            self.lo, self.hi = diff - half, diff + half
        self.p_value = min(self.p_value, 1.0 / max(msprt_ratio(diff, var, self.tau), 1.0))
        self.looks.append((diff, self.lo, self.hi))
        return self.lo, self.hi

    @property
    def significant(self) -> bool:
        return self.lo > 0 or self.hi < 0


def needed_per_arm(unit_var: float, mde: float, tau: float, alpha: float = 0.05, *, have: int = 0) -> int:
    """Per-arm sample at which the sequence's half-width falls to ``mde`` (for a difference whose variance
    is ``unit_var / n`` per arm), minus ``have``; 0 when already there.

    >>> needed_per_arm(2 * 0.85 * 0.15, 0.03, 0.03) > needed_per_arm(2 * 0.85 * 0.15, 0.05, 0.05)
    True
    """
    if unit_var <= 0 or mde <= 0:
        return 0
    lo, hi = 1, 1
    while cs_half_width(unit_var / hi, tau, alpha) > mde:
        lo, hi = hi, hi * 2
        if hi > 10**12:
            return 10**12
    while lo < hi:
        mid = (lo + hi) // 2
        if cs_half_width(unit_var / mid, tau, alpha) > mde:
            lo = mid + 1
        else:
            hi = mid
    return max(0, hi - have)


def needed_fixed(p_a: float, mde: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """Per-arm sample of a one-look two-proportion test to find ``mde`` with ``power`` (for reference).

    >>> needed_fixed(0.85, 0.05)
    683
    """
    p_b = min(max(p_a + mde, 0.0), 1.0)
    z = _z(alpha) + float(sps.norm.ppf(power))
    return math.ceil(z * z * (p_a * (1 - p_a) + p_b * (1 - p_b)) / (mde * mde))
