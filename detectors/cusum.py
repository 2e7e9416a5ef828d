"""A sequential test on the windows of a series: CUSUM of the log-likelihood ratio.

Each window's contacts are evidence; the CUSUM adds up, window after window,
how much better "the rate moved by ``swing``" explains them than "nothing
changed" (the expected value comes from the swing detector's protected
baseline), and alarms when the sum passes ``h``. Small lasting shifts that no
single window can show (+20 % of a 10 % timeout rate at 300 contacts/h) add up
to an alarm; this is the test whose delay the benchmark's oracle bounds.

Only windows that do not overlap the last one used count (a rolling hour
stepped every minute contributes once an hour), so no contact is counted twice.

>>> from detectors.cusum import RateCusum
>>> det = RateCusum(swing=0.2, direction="up", h=8.0, block_s=0)  # (0: no dispersion to measure first)
>>> for k in range(24):  # two hours of 5-minute windows at 12 % instead of the expected 10 %
...     x = {"y": 0.12, "n": 300, "start": 300.0 * k, "end": 300.0 * (k + 1), "expected": 0.10, "n_base": 20000}
...     score = det.score_one(x)
...     det.learn_one(x)
>>> round(score, 2)
1.89
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any, Literal

from detectors.base import Z2_CAP, Detector, Evidence, Observation, relative, running_mean


def _binomial_llr(k: float, n: float, p0: float, p1: float) -> float:
    """Log-likelihood ratio of ``k`` bad outcomes in ``n`` at rate ``p1`` vs ``p0``."""
    return k * math.log(p1 / p0) + (n - k) * math.log((1 - p1) / (1 - p0))


class RateCusum(Detector):
    """One-sided CUSUM of the binomial (or normal, for means) log-likelihood ratio per window.

    Parameters
    ----------
    swing
        The relative change the test is tuned to detect (the alternative).
    direction
        ``"up"`` or ``"down"``: which way is bad; ``"both"`` (counts) keeps one sum per side.
    h
        Alarm threshold in nats (about ln of the windows between false alarms).
    kind
        ``ratio`` (binomial), ``seconds`` (means, normal with ``cv``) or ``count``
        (Poisson: ``y`` is the count of the window, ``expected`` its expected count and
        ``spread`` the expected value's relative uncertainty, taken toward each bad side).
    cv
        Coefficient of variation of one contact's value, for ``seconds``.
    min_expected
        Ratios: no evidence while the baseline expects fewer bad outcomes than this
        (a CSAT baseline of 36 surveys, all happy, would make one unhappy survey an alarm).

    ``x`` carries ``expected`` (and ``n_base``, the baseline's effective n) from the
    baseline it is tested against; without them it scores 0. An optional ``trend``
    (how far the KPI's recent slope carries it from the baseline to this window) is
    added to the expected value when it points the bad way, so a KPI that rises
    every morning does not add its rise up to an alarm. The test's reference
    value (half-way between "as expected" and "moved by ``swing``", where a
    window's evidence turns positive) is kept at least 2 baseline sd from the
    expected value, so a baseline that is a little off does not add up to an
    alarm. An optional ``noise`` (>= 1, the variance multiplier the series
    showed beyond its sampling noise) divides the log-likelihood ratio, as a
    quasi-likelihood does: a series that wanders more than its ``n`` explains
    adds up evidence more slowly.

    The test also measures that multiplier itself, at its own time scale: over
    blocks of ``block_s`` seconds of evidence (the time a small shift takes to
    add up), the squared sum of the contacts' deviations from the expected value
    over what the model's variance explains (z², capped at 16), as a running
    mean of about ``memory`` blocks (:attr:`dispersion`). A rate that wanders
    for hours at a time (timeouts that follow the day's load) is a sum of
    hour-long deviations that minute-level noise cannot show; independent
    contacts give about 1. A block is learned ``delay_s`` after it ended, unless
    :meth:`discard_pending` dropped it first (an incident fired: its blocks are
    not the series' noise). Until ``min_blocks`` blocks are learned the evidence
    does not add up (:attr:`learning`); ``block_s=0`` measures nothing and adds
    up at once.
    """

    grace_period = 0
    _s2 = 0.0
    min_expected = 0.0  # (detectors pickled before the parameter existed)
    block_s = 7200.0  # (detectors pickled before the dispersion was measured start measuring it)
    delay_s = 4 * 3600.0
    memory = 36
    _disp: tuple[float, int] = (1.0, 0)
    _block: tuple[float, float, float, float] | None = None
    min_blocks = 3

    def __init__(
        self,
        swing: float = 0.2,
        direction: Literal["up", "down", "both"] = "up",
        h: float = 8.0,
        kind: str = "ratio",
        cv: float = 1.0,
        min_expected: float = 0.0,
        block_s: float = 7200.0,
        delay_s: float = 4 * 3600.0,
        memory: int = 36,
    ) -> None:
        self.swing = swing
        self.direction = direction
        self.h = h
        self.kind = kind
        self.cv = cv
        self.min_expected = min_expected
        self._s = 0.0
        self._s2 = 0.0  # the down side's sum when direction is "both"
        self._last_end: float | None = None
        self.block_s = block_s
        self.delay_s = delay_s
        self.memory = memory
        self._disp = (1.0, 0)
        self._block = None  # (seconds of evidence, sum of n (y - e), of n var, of n sd of the baseline)
        self._pending: list[tuple[float, float]] = []  # (block end, z^2) waiting delay_s

    @property
    def dispersion(self) -> float:
        """The variance multiplier measured over blocks of ``block_s`` (1 before any; never below 1).

        >>> det = RateCusum(swing=0.2, block_s=3600.0, delay_s=0.0)
        >>> for hour in range(48):  # the rate wanders by an hour at a time: 10 %, 12 %, 10 %, 8 %, ...
        ...     y = 0.10 * (1 + 0.2 * [0, 1, 0, -1][hour % 4])
        ...     for m in range(60):
        ...         t = 3600.0 * hour + 60.0 * m
        ...         det.learn_one({"y": y, "n": 25, "start": t, "end": t + 60, "expected": 0.10, "n_base": 20000})
        >>> round(det.dispersion, 1)  # every other hour 2.5 sd off (30 timeouts in 1,500 contacts)
        3.1
        """
        mean, k = self._disp
        return max(1.0, (1.0 + k * mean) / (1.0 + k))

    @property
    def measured(self) -> bool:
        """Whether the dispersion is measured (``min_blocks`` blocks learned): until then evidence does not add up.

        The first blocks come ``block_s + delay_s`` after the evidence starts: a series that
        wanders for hours at a time would otherwise alarm before it is known to.
        """
        return self.block_s <= 0 or self.kind == "count" or self._disp[1] >= self.min_blocks

    def findable(self, expected: float, contacts: float) -> bool:
        """Whether ``contacts`` more at ``expected`` could complete the evidence for a change of ``swing``:
        even a test that knew the rates before and after needs (``h`` - the sum so far) / KL contacts
        (Lorden's bound; KL per contact, bad side).

        >>> det = RateCusum(swing=0.2, h=12.0)
        >>> det.findable(0.10, 4 * 2000), det.findable(0.10, 4 * 600)  # 4 hours at 2,000 or 600 contacts an hour
        (True, False)
        """
        if self.kind == "count":
            return True
        if self.kind == "ratio":
            p0 = min(max(expected, 1e-6), 1 - 1e-6)
            p1 = self._moved(p0, 1.0 if self.direction == "up" else -1.0)
            kl = _binomial_llr(p1, 1.0, p0, p1)  # one contact's expected evidence once the rate moved
        else:
            kl = self.swing**2 / (2 * self.cv**2)
        return contacts * kl >= self.h - max(self._s, self._s2)

    def discard_pending(self) -> None:
        """Drop the blocks not yet learned (and the one being measured): an incident fired over them."""
        self._pending = []
        self._block = None

    @property
    def learning(self) -> bool:
        return not self.measured

    @property
    def building(self) -> bool:
        """Whether the sum is past a quarter of the threshold: evidence is building up (the baseline it is
        tested against should not learn it)."""
        return max(self._s, self._s2) >= self.h / 4

    def reset(self) -> None:
        self._s = 0.0
        self._s2 = 0.0

    def _llrs(self, x: Observation) -> tuple[float, float] | None:
        """The window's log-likelihood ratio for the bad side (and the down side when "both")."""
        y, n, e = x.get("y"), float(x.get("n") or 0), x.get("expected")
        if y is None or e is None or n <= 0:
            return None
        if self._last_end is not None and float(x["start"]) < self._last_end:
            return None  # overlaps the last window used
        if self.kind == "count":
            up = self._count_llr(float(y), float(e), float(x.get("spread") or 0.0), 1.0)
            down = self._count_llr(float(y), float(e), float(x.get("spread") or 0.0), -1.0)
            return (down, 0.0) if self.direction == "down" else (up, down if self.direction == "both" else 0.0)
        llr = self._llr(x, 1.0 if self.direction == "up" else -1.0)
        if llr is None:
            return None
        return (llr / max(float(x.get("noise") or 1.0), self.dispersion), 0.0) if self.measured else (0.0, 0.0)

    def _count_llr(self, k: float, expected: float, spread: float, sign: float) -> float:
        lam0 = max(expected * (1 + sign * min(abs(spread), self.swing / 2)), 1e-9)
        r = max(1 + sign * self.swing, 1e-6)
        return k * math.log(r) - lam0 * (r - 1)

    def _llr(self, x: Observation, sign: float) -> float | None:
        y, n, e = x.get("y"), float(x.get("n") or 0), x.get("expected")
        if y is None or e is None:
            return None
        n_base = float(x.get("n_base") or 0)
        y, e = float(y), float(e)
        e += sign * max(0.0, sign * float(x.get("trend") or 0.0))
        if self.kind == "ratio":
            if n_base > 0:  # a baseline of n_base outcomes cannot say a rate is 0 or 1
                e = min(max(e, 0.5 / n_base), 1 - 0.5 / n_base)
            if self.min_expected > 0 and n_base * (e if sign > 0 else 1 - e) < self.min_expected:
                return None
            sd_base = math.sqrt(self._unit_var(e) / n_base) if n_base > 0 else 0.0
            p0 = min(max(e + sign * max(0.0, 2 * sd_base - self.swing * e / 2), 1e-6), 1 - 1e-6)
            return _binomial_llr(y * n, n, p0, self._moved(p0, sign))
        sigma = math.sqrt(self._unit_var(e))
        sd_base = sigma / math.sqrt(n_base) if n_base > 0 else 0.0
        mu0 = e + sign * max(0.0, 2 * sd_base - self.swing * abs(e) / 2)
        delta = sign * self.swing * abs(mu0)
        return n * delta / sigma**2 * (y - mu0 - delta / 2)

    def _moved(self, p0: float, sign: float) -> float:
        """The rate "moved by ``swing``" the bad way from ``p0`` (kept inside (0, 1))."""
        return min(max(p0 * (1 + sign * self.swing), 1e-6), 1 - 1e-6)

    def _unit_var(self, e: float) -> float:
        """One contact's variance at the expected value ``e``: binomial for ratios, ``(cv e)^2`` for means."""
        return max(e * (1 - e), 1e-9) if self.kind == "ratio" else (self.cv * max(abs(e), 1e-9)) ** 2

    def learn_one(self, x: Observation) -> None:
        llr = self._llrs(x)
        if llr is None:
            return
        self._s = max(0.0, self._s + llr[0])
        self._s2 = max(0.0, self._s2 + llr[1])
        self._last_end = float(x["end"])
        if self.block_s > 0 and self.kind != "count":
            self._measure(x)

    def _measure(self, x: Observation) -> None:
        """Add the window's deviation from the expected value to the block; learn blocks ``delay_s`` old."""
        start, end = float(x["start"]), float(x["end"])
        n, y, n_base = float(x["n"]), float(x["y"]), float(x.get("n_base") or 0)
        e = float(x["expected"])  # (not moved by the trend, which only ever moves it the bad way)
        var1 = self._unit_var(e)
        sd_base = math.sqrt(var1 / n_base) if n_base > 0 else 0.0
        # the block is the evidence the sum took, gaps and all (a baseline that is not settled gives none);
        # the contacts' sampling variance adds up, the baseline's error is the same all through the block
        t, dev, var, base = self._block or (0.0, 0.0, 0.0, 0.0)
        t, dev, var, base = t + end - start, dev + n * (y - e), var + n * var1, base + n * sd_base
        pending = self.__dict__.setdefault("_pending", [])
        if t >= self.block_s:
            pending.append((end, min(dev**2 / max(var + base**2, 1e-12), Z2_CAP)))
            self._block = None
        else:
            self._block = (t, dev, var, base)
        while pending and pending[0][0] <= end - self.delay_s:
            self._disp = running_mean(self._disp, pending.pop(0)[1], self.memory)

    def explain_one(self, x: Observation) -> Evidence | None:
        e = x.get("expected")
        if x.get("y") is None or e is None:
            return None
        llr = self._llrs(x)
        s = max(max(0.0, self._s + llr[0]), max(0.0, self._s2 + llr[1])) if llr is not None else max(self._s, self._s2)
        change = relative(float(x["y"]), float(e))
        return Evidence(float(e), float(e), float(e), change, 0.0, 0.0, s / self.h)

    @classmethod
    def _unit_test_params(cls) -> Iterator[dict[str, Any]]:
        yield {"swing": 0.2, "direction": "up", "h": 5.0}
        yield {"swing": 0.2, "direction": "down", "h": 5.0, "kind": "seconds"}
