"""The SLA target rule: a KPI beyond the customer's target for k of m windows.

Unlike the swing rule it needs no history: the target is the standard
(``settings.targets``: service level >= 95 %, CSAT >= 90 %, FRT <= 120 s, ...).
The score is how far beyond the target the value is, as a ratio: 1 or more
means the target is missed, so the decision layer's k-of-m persistence and
"calm below 1" apply as they are.

>>> from detectors.sla import TargetRule
>>> rule = TargetRule(target=0.95, direction="down")
>>> rule.score_one({"y": 0.97, "n": 300}), round(rule.score_one({"y": 0.90, "n": 300}), 3)
(0.979..., 1.056)
>>> TargetRule(target=120.0, direction="up").score_one({"y": 180.0, "n": 300})
1.5
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

from detectors.base import Detector, Evidence, Observation, relative

TARGET_KPIS: dict[str, tuple[str, Literal["up", "down"]]] = {
    "frt_avg_s": ("frt_avg_s", "up"),
    "service_level": ("service_level", "down"),
    "fcr_rate": ("fcr_rate", "down"),
    "csat": ("csat", "down"),
    "nps": ("nps", "down"),
    "complaint_rate": ("complaint_rate", "up"),
    "complaint_timely_rate": ("complaint_timely_rate", "down"),
}
"""KPI → (field of ``settings.targets``, which way misses it)."""


class TargetRule(Detector):
    """Scores a window against a fixed target; it learns nothing.

    Parameters
    ----------
    target
        The value to stay within.
    direction
        ``"up"`` when above the target is bad (FRT, complaints), ``"down"`` when
        below is bad (service level, CSAT).
    """

    grace_period = 0

    def __init__(self, target: float, direction: Literal["up", "down"] = "down") -> None:
        self.target = target
        self.direction = direction

    def learn_one(self, x: Observation) -> None:
        return None

    @property
    def learning(self) -> bool:
        return False

    def explain_one(self, x: Observation) -> Evidence | None:
        y = x.get("y")
        if y is None:
            return None
        y = float(y)
        if self.direction == "up":
            score = y / self.target if self.target > 0 else (1.0 + y if y > 0 else 0.0)
        else:
            score = self.target / y if y > 0 else (2.0 if self.target > 0 else 0.0)
            if self.target < 0 <= y or (y < 0 and self.target < 0):  # scores below zero (NPS)
                score = 1.0 + (self.target - y) / 100.0
        score = max(score, 0.0)
        change = relative(y, self.target)
        lower = self.target if self.direction == "down" else float("-inf")
        upper = self.target if self.direction == "up" else float("inf")
        return Evidence(self.target, lower, upper, change, change, 0.0, score)

    @classmethod
    def _unit_test_params(cls) -> Iterator[dict[str, Any]]:
        yield {"target": 0.95, "direction": "down"}
        yield {"target": 0.12, "direction": "up"}
