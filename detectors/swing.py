"""The relative swing rule: the current window vs a rolling baseline of earlier ones.

The baseline is built only from windows that do not overlap the one being scored
(a rolling 60-minute window is compared with windows that ended before it
started), so a change is never half inside its own baseline. Observations enter
the baseline when a later window starts after they ended; until then they are
*pending*, and :meth:`SwingDetector.discard_pending` drops them when an incident
starts, which keeps the incident out of the baseline.

The score is ``min(change / swing, z / z_min)`` in the bad direction: 1 or more
means the value moved by at least ``swing`` (e.g. +20 %) *and* by at least
``z_min`` standard deviations of the sampling noise at this ``n``.

>>> from detectors.swing import SwingDetector
>>> det = SwingDetector(swing=0.2, direction="up", kind="ratio", grace_period=5)
>>> for minute in range(10):
...     x = {"y": 0.10, "n": 2000, "start": 60.0 * minute, "end": 60.0 * (minute + 1)}
...     det.learn_one(x)
>>> det.score_one({"y": 0.11, "n": 2000, "start": 600.0, "end": 660.0})  # +10 %: small
0.463...
>>> det.score_one({"y": 0.14, "n": 2000, "start": 600.0, "end": 660.0})  # +40 % and 5.3 sd
1.755...
>>> det.explain_one({"y": 0.14, "n": 2000, "start": 600.0, "end": 660.0}).expected
0.1
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from typing import Literal

from detectors.base import Detector, Evidence, Observation, relative
from detectors.noise import inverse, scale, variance

Entry = tuple[float, float, float, float]  # (start, end, y, n)


class SwingDetector(Detector):
    """Relative change vs a rolling, non-overlapping baseline, scaled by sampling noise.

    Parameters
    ----------
    swing
        Relative change that counts as a swing (0.2 = 20 %).
    direction
        Which way is bad: ``"up"``, ``"down"`` or ``"both"``.
    kind
        Sampling model of the KPI (:mod:`detectors.noise`): ratio, seconds, count, score.
    z_min
        Standard deviations of sampling noise a swing must also exceed.
    window_size
        Number of windows in the baseline.
    grace_period
        Windows in the baseline before scoring starts (score 0 until then).
    cv
        Coefficient of variation of one contact's value, for ``seconds`` KPIs.
    overdispersion
        Multiplier of the sampling variance (real centers vary more than binomial).

    ``z`` is computed on a variance-stabilising scale (:mod:`detectors.noise`), so
    the tails of small counts are not underestimated.
    """

    def __init__(
        self,
        swing: float = 0.2,
        direction: Literal["up", "down", "both"] = "up",
        kind: str = "ratio",
        z_min: float = 3.0,
        window_size: int = 30,
        grace_period: int = 15,
        cv: float = 1.0,
        overdispersion: float = 1.0,
    ) -> None:
        self.swing = swing
        self.direction = direction
        self.kind = kind
        self.z_min = z_min
        self.window_size = window_size
        self.grace_period = grace_period
        self.cv = cv
        self.overdispersion = overdispersion
        self._base: deque[Entry] = deque(maxlen=window_size)
        self._pending: deque[Entry] = deque(maxlen=4 * 1440)

    # --- learning -------------------------------------------------------------
    def learn_one(self, x: Observation) -> None:
        if x.get("y") is None:
            return
        start = float(x["start"])
        while self._pending and self._pending[0][1] <= start:
            self._base.append(self._pending.popleft())
        self._pending.append((start, float(x["end"]), float(x["y"]), float(x.get("n") or 0)))

    def discard_pending(self) -> None:
        """Forget observations not yet in the baseline (they overlap a suspect window)."""
        self._pending.clear()

    def _usable(self, start: float) -> list[Entry]:
        ready = [e for e in self._pending if e[1] <= start]
        if not ready:
            return list(self._base)
        return (list(self._base) + ready)[-self.window_size :]

    @property
    def learning(self) -> bool:
        return len(self._base) < self.grace_period

    # --- scoring --------------------------------------------------------------
    def baseline(self, start: float) -> tuple[float, float] | None:
        """(expected value, its effective n) from the windows that ended by ``start``."""
        entries = self._usable(start)
        if len(entries) < max(self.grace_period, 1):
            return None
        return _pooled(entries, self.kind)

    def explain_one(self, x: Observation) -> Evidence | None:
        y = x.get("y")
        if y is None:
            return None
        base = self.baseline(float(x["start"]))
        if base is None:
            return None
        expected, n_base = base
        y = float(y)
        n = 1.0 if self.kind == "count" else float(x.get("n") or 0)
        sd = math.sqrt(self.overdispersion * (variance(self.kind, n, self.cv) + variance(self.kind, n_base, self.cv)))
        g_e, g_y = scale(self.kind, expected), scale(self.kind, y)
        z = (g_y - g_e) / sd
        change = relative(y, expected)
        sure = relative(inverse(self.kind, g_y - math.copysign(2 * sd, z)), expected)
        if (sure > 0) != (change > 0):
            sure = 0.0
        lower = min(inverse(self.kind, g_e - self.z_min * sd), expected * (1 - self.swing))
        upper = max(inverse(self.kind, g_e + self.z_min * sd), expected * (1 + self.swing))
        return Evidence(expected, lower, upper, change, sure, z, self._score(change, z))

    def _score(self, change: float, z: float) -> float:
        if self.direction == "down":
            change, z = -change, -z
        elif self.direction == "both":
            change, z = abs(change), abs(z)
        if change <= 0 or z <= 0:
            return 0.0
        return min(change / self.swing, z / self.z_min)

    @classmethod
    def _unit_test_params(cls) -> Iterable[dict]:
        yield {"swing": 0.2, "direction": "up", "kind": "ratio", "grace_period": 3}
        yield {"swing": 0.3, "direction": "both", "kind": "seconds", "grace_period": 3, "window_size": 5}


def _pooled(entries: list[Entry], kind: str) -> tuple[float, float]:
    """The n-weighted mean of the entries and its effective n.

    Overlapping windows (a rolling 60 minutes stepped every minute) share their
    contacts, so the effective n is the total n scaled by how much time they
    cover together over how much they cover apart. For counts, n is the number
    of windows.
    """
    total_n = sum(e[3] for e in entries)
    if kind == "count" or total_n <= 0:
        return sum(e[2] for e in entries) / len(entries), float(len(entries))
    mean = sum(e[2] * e[3] for e in entries) / total_n
    covered = max(e[1] for e in entries) - min(e[0] for e in entries)
    apart = sum(e[1] - e[0] for e in entries)
    return mean, total_n * min(1.0, covered / apart) if apart > 0 else total_n
