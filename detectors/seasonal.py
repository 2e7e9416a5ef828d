"""Seasonal robust baseline: the expected value for this hour of the week, and a robust spread.

For series without a known ``n`` (a KPI history exported to CSV, an NAB file) or
with strong daily and weekly rhythms, the expected value of a window is learned
per hour of the week (falling back to the hour of the day, then to the overall
level while those are still unseen), plus a fast *level* that follows lasting
shifts. The spread is a robust running mean absolute residual (so a spike does
not widen it much), and the score is likelihood-style, in [0, 1):
``2 * Phi(z) - 1`` for a residual of ``z`` robust sd in the bad direction.

>>> import math, random
>>> from detectors.seasonal import SeasonalBaseline
>>> rng = random.Random(7)
>>> det = SeasonalBaseline(direction="up", grace_period=48)
>>> for h in range(24 * 14):  # two weeks of hourly values with a daily rhythm
...     y = 100 + 40 * math.sin(2 * math.pi * h / 24) + rng.gauss(0, 5)
...     det.learn_one({"y": y, "start": 3600.0 * h, "end": 3600.0 * (h + 1)})
>>> h = 24 * 14 + 6  # 06:00-07:00, where the rhythm peaks at ~140
>>> round(det.explain_one({"y": 141.0, "start": 3600.0 * h, "end": 3600.0 * (h + 1)}).expected, -1)
140.0
>>> det.score_one({"y": 141.0, "start": 3600.0 * h, "end": 3600.0 * (h + 1)}) < 0.5
True
>>> det.score_one({"y": 180.0, "start": 3600.0 * h, "end": 3600.0 * (h + 1)})
0.99999...
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any, Literal

from river import stats

from detectors.base import Detector, Evidence, Observation, relative
from detectors.noise import inverse, scale, variance

WEEK = 7 * 24
_SQRT2 = math.sqrt(2.0)


class SeasonalBaseline(Detector):
    """Expected value by hour of week (hour of a weekday/weekend day as fallback) + level; robust spread.

    A window whose kind of hour has never been seen (the first Saturday) is not
    scored: there is no baseline for it yet.

    Parameters
    ----------
    direction
        Which way is bad: ``"up"``, ``"down"`` or ``"both"``.
    alpha
        Learning rate of an hour-of-week slot per hour of data (0.3: the last ~3 weeks count).
    level_alpha
        Learning rate of the level per hour of data (follows lasting shifts in about
        1/level_alpha hours).
    scale_alpha
        Learning rate of the robust spread per hour of data.

    Rates are per hour of data, so a rolling hour stepped every minute learns as
    fast as an hourly series (each of its windows counts 1/60).
    grace_period
        Windows learned before scoring (score 0 until then).
    tz_offset_s
        Local time offset of the series (hours of day are local: default UTC+8).
    z_min
        Robust sd at which ``explain_one``'s band is drawn.
    counts
        The series counts events (contacts in a window): the spread is never taken
        below the Poisson noise of the expected count, ``sqrt(expected)``, so a
        small team's quiet hours are not judged by the spread of its busy ones.
    kind, cv
        The sampling kind of a KPI with an ``n`` (:mod:`detectors.noise`: ratio,
        seconds, score): the spread is then the sampling noise of the window at
        its ``n`` and of the slot (an average of a few earlier hours like it),
        times the overdispersion measured on the windows learned: the square of
        the rolling median |z| over about a day of them, over 0.6745 (the median
        |z| of pure noise); never below 1. A median, so that a drift the table is
        slow to see does not widen its own band. A night's 60 contacts are judged
        by their own noise, not by the day's 2,000, and a day's by theirs.
    any_day
        An hour never seen on this kind of day (weekday or weekend) takes the same
        hour of the other kind: for a daily *shape* (the rhythm), a Sunday's is a
        better guess for the first Monday than none. Not for judging levels (the
        first Saturday's volume is not judged by weekdays').
    """

    score_max = 1.0
    breach = 0.9995  # ~3.5 robust sd
    counts = False  # (monitors pickled before the parameter existed)
    kind: str | None = None
    cv = 1.0
    any_day = False
    _abs_z: stats.RollingQuantile | None = None
    """Kind tables: the rolling median |z| of the windows learned (their measured overdispersion)."""
    _abs_z_n = 0
    Z_MEMORY = 288

    def __init__(
        self,
        direction: Literal["up", "down", "both"] = "both",
        alpha: float = 0.3,
        level_alpha: float = 0.02,
        scale_alpha: float = 0.02,
        grace_period: int = 48,
        tz_offset_s: float = 8 * 3600.0,
        z_min: float = 3.5,
        counts: bool = False,
        kind: str | None = None,
        cv: float = 1.0,
        any_day: bool = False,
    ) -> None:
        self.direction = direction
        self.alpha = alpha
        self.level_alpha = level_alpha
        self.scale_alpha = scale_alpha
        self.grace_period = grace_period
        self.tz_offset_s = tz_offset_s
        self.z_min = z_min
        self.counts = counts
        self.kind = kind
        self.cv = cv
        self.any_day = any_day
        self._week = [0.0] * WEEK  # seasonal part, per hour of week (level removed)
        self._week_seen = [0.0] * WEEK  # hours of data seen per slot
        self._day = [0.0] * 48  # hour of day, weekdays then weekend days
        self._day_seen = [0.0] * 48
        self._level = 0.0
        self._abs = 0.0  # running mean |residual|
        self._n = 0
        self._last_end: float | None = None

    def _slots(self, x: Observation) -> list[tuple[int, int, float]]:
        """The two hour slots around the window's middle, with linear weights (week slot, day slot, w).

        Slots are hour centres; interpolating between them keeps a steep morning
        ramp from looking like a jump at each full hour.
        """
        mid = (float(x["start"]) + float(x["end"])) / 2 + self.tz_offset_s
        pos = mid / 3600.0 - 0.5
        h0 = math.floor(pos)
        f = pos - h0
        # 1970-01-01 was a Thursday: shift so week slot 0 is Monday 00:00-01:00
        out = []
        for h, w in ((h0, 1.0 - f), (h0 + 1, f)):
            week = (h + 3 * 24) % WEEK
            weekend = week >= 5 * 24
            out.append((week, h % 24 + (24 if weekend else 0), w))  # day slots: weekdays 0-23, weekends 24-47
        return out

    def _slot_value(self, week: int, day: int) -> float:
        """Hour of week, shrunk toward hour of day until the week slot has 3 hours of data."""
        if not self._day_seen[day] and self.any_day:
            day = (day + 24) % 48  # the same hour of the other kind of day
        d = self._day[day] if self._day_seen[day] else 0.0
        w = min(self._week_seen[week], 3) / 3.0
        return w * self._week[week] + (1.0 - w) * d

    def _seasonal(self, slots: list[tuple[int, int, float]]) -> float:
        return sum(w * self._slot_value(week, day) for week, day, w in slots)

    def expected_one(self, x: Observation) -> float:
        return self._level + self._seasonal(self._slots(x))

    def known(self, x: Observation) -> bool:
        """Whether this kind of hour (the week slot, or the same hour of a weekday/weekend day) was seen."""
        seen = self._day_seen
        return all(
            self._week_seen[week] or seen[day] or (self.any_day and seen[(day + 24) % 48])
            for week, day, w in self._slots(x)
            if w > 0.05
        )

    @property
    def learning(self) -> bool:
        return self._n < self.grace_period

    def _sampling_var(self, x: Observation) -> float | None:
        """Variance (stable scale) of the window's value vs its slot: the window's sampling noise at ``n`` and
        the slot's, an average of about as many earlier hours as it has seen (at most 10)."""
        n = x.get("n")
        if self.kind is None or not n:
            return None
        seen = min((self._day_seen[day] for _, day, w in self._slots(x) if w > 0.05), default=1.0)
        return variance(self.kind, float(n), self.cv) * (1.0 + 1.0 / max(1.0, min(seen, 10.0)))

    @property
    def overdispersion(self) -> float:
        """Kind tables: how much more the windows wander around the table than sampling explains (>= 1)."""
        median = self._abs_z.get() if self._abs_z is not None and self._abs_z_n >= self.Z_MEMORY // 4 else None
        return max(1.0, (median / 0.6745) ** 2) if median is not None else 1.0

    def learn_one(self, x: Observation) -> None:
        y = x.get("y")
        if y is None:
            return
        y = float(y)
        slots = self._slots(x)
        end = float(x["end"])
        hours = min(1.0, max(end - self._last_end, 0.0) / 3600.0) if self._last_end is not None else 1.0
        self._last_end = end
        var = self._sampling_var(x)
        if var is not None and self.kind is not None and not self.learning and self.known(x):
            if self._abs_z is None:
                self._abs_z = stats.RollingQuantile(q=0.5, window_size=self.Z_MEMORY)
            self._abs_z_n += 1
            self._abs_z.update(abs(scale(self.kind, y) - scale(self.kind, self.expected_one(x))) / math.sqrt(var))
        if self._n == 0:
            self._level = y
        resid = y - self._level - self._seasonal(slots)
        a = max(self.scale_alpha * hours, 1.0 / (self._n + 1))
        self._abs += a * (min(abs(resid), 6.0 * self._abs + 1e-12 if self._n > 10 else abs(resid)) - self._abs)
        la = max(self.level_alpha * hours, 1.0 / (self._n + 1))
        seasonal_part = y - self._level
        for week, day, w in slots:
            h = hours * w
            for table, seen, slot, rate in (
                (self._week, self._week_seen, week, self.alpha * h),
                (self._day, self._day_seen, day, self.alpha * h / 3.0),  # visited 7x as often
            ):
                if seen[slot]:
                    table[slot] += max(rate, h / (seen[slot] + h)) * (seasonal_part - table[slot])
                else:
                    table[slot] = seasonal_part
                seen[slot] = min(seen[slot] + h, 1e6)
        self._level += la * (y - self._level - self._seasonal(slots))
        self._n += 1

    def rebase(self, x: Observation) -> None:
        """Accept a lasting shift: move the level so that ``x`` is exactly as expected."""
        y = x.get("y")
        if y is not None and self._n > 0:
            self._level += float(y) - self.expected_one(x)

    def spread_one(self, x: Observation) -> float:
        """The sd around ``expected_one(x)``: the robust spread, at least the Poisson noise for counts; with
        ``kind`` and ``x["n"]``, the sampling noise of the window and the slot times the measured overdispersion."""
        expected = self.expected_one(x)
        sd = max(1.2533 * self._abs, 1e-9 * max(1.0, abs(expected)))
        if self.counts:
            return max(sd, math.sqrt(max(expected, 1.0)))
        var = self._sampling_var(x)
        if var is not None and self.kind is not None:
            g, s = scale(self.kind, expected), math.sqrt(var * self.overdispersion)
            return (inverse(self.kind, g + s) - inverse(self.kind, g - s)) / 2
        return sd

    def explain_one(self, x: Observation) -> Evidence | None:
        y = x.get("y")
        if y is None or self.learning or not self.known(x):
            return None
        y = float(y)
        expected = self.expected_one(x)
        sd = self.spread_one(x)
        z = (y - expected) / sd
        bad = z if self.direction == "up" else -z if self.direction == "down" else abs(z)
        score = max(0.0, math.erf(bad / _SQRT2)) if bad > 0 else 0.0
        change = relative(y, expected)
        sure = relative(y - math.copysign(2 * sd, z), expected)
        if (sure > 0) != (change > 0):
            sure = 0.0
        return Evidence(expected, expected - self.z_min * sd, expected + self.z_min * sd, change, sure, z, score)

    @classmethod
    def _unit_test_params(cls) -> Iterator[dict[str, Any]]:
        yield {"direction": "up", "grace_period": 10}
        yield {"direction": "both", "grace_period": 20, "alpha": 0.5}
