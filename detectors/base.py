"""What every sqm detector shares: the observation ``x`` and the evidence record.

sqm detectors are River anomaly detectors (``river.base.AnomalyDetector``):
``learn_one(x)`` returns nothing, ``score_one(x)`` returns a float where high means
anomalous and never changes the detector, and during ``grace_period`` they score 0.
Score first, then learn. The decision "is this an incident?" is not theirs: it
belongs to :mod:`detectors.decision`.

One observation is one window of one KPI of one series::

    x = {"y": 0.31, "n": 1200, "start": 1767225600.0, "end": 1767229200.0}

``y`` is the KPI value, ``n`` its denominator (contacts, answers, surveys),
``start``/``end`` the window's bounds in epoch seconds (UTC). Besides the score,
sqm detectors can ``explain_one(x)``: the expected value, the noise around it and
the change, which the monitor copies into the Anomaly record.
"""

from __future__ import annotations

from collections.abc import Hashable
from datetime import datetime
from typing import Any, NamedTuple

from river import base as river_base

Observation = dict[Hashable, Any]


Z2_CAP = 16.0
"""One window's z^2 counts at most this much in a measured noise (one burst does not blind a detector)."""


def running_mean(state: tuple[float, int], value: float, memory: int) -> tuple[float, int]:
    """One more ``value`` in a (mean, count) running mean that forgets beyond ``memory`` values.

    >>> running_mean(running_mean((0.0, 0), 2.0, 36), 4.0, 36)
    (3.0, 2)
    """
    mean, k = state
    k = min(k + 1, memory)
    return mean + (value - mean) / k, k


class Evidence(NamedTuple):
    """Why a detector scored an observation the way it did."""

    expected: float
    lower: float
    """Below this the value would have been unusual (the band at the detector's threshold)."""
    upper: float
    change: float
    """Relative change of the value vs expected, signed (+0.41 = 41 % higher)."""
    sure_change: float
    """The relative change that is nearly certain (2 sd of noise taken off), signed like ``change``."""
    z: float
    """Signed change in sd of the sampling noise (on the variance-stabilising scale)."""
    score: float


def observation(y: float, n: float, start: datetime | float, end: datetime | float) -> Observation:
    """Build ``x`` for a detector from a window's value.

    >>> from datetime import UTC, datetime
    >>> observation(0.2, 100, 0.0, datetime(1970, 1, 1, 1, tzinfo=UTC))
    {'y': 0.2, 'n': 100, 'start': 0.0, 'end': 3600.0}
    """
    s = start.timestamp() if isinstance(start, datetime) else float(start)
    e = end.timestamp() if isinstance(end, datetime) else float(end)
    return {"y": y, "n": n, "start": s, "end": e}


def relative(value: float, expected: float) -> float:
    """Signed relative change; a change from 0 counts as +/-100 % per unit of value.

    >>> relative(0.31, 0.22)
    0.409...
    >>> relative(1.0, 0.0)
    1.0
    """
    if expected == 0:
        return value
    return (value - expected) / abs(expected)


class Detector(river_base.AnomalyDetector):
    """Base of sqm's univariate window detectors (``explain_one`` + the River contract)."""

    grace_period: int
    score_max: float = float("inf")
    """Scores lie in [0, score_max]."""
    breach: float = 1.0
    """A score at or above this is beyond the detector's own threshold."""

    def explain_one(self, x: Observation) -> Evidence | None:  # pragma: no cover - abstract
        """The evidence behind ``score_one(x)``; None while learning."""
        raise NotImplementedError

    def score_one(self, x: Observation) -> float:
        ev = self.explain_one(x)
        return 0.0 if ev is None else ev.score

    @property
    def learning(self) -> bool:
        """True until the detector has seen enough history to score."""
        raise NotImplementedError
