"""The decision layer: from scores to incidents.

A detector says how unusual one window is; this module decides when that is an
incident worth a supervisor's attention, and when it is over:

- **warm-up**: no decision while the detector is still learning (phase ``learning``);
- **persistence**: an incident fires when ``k`` of the last ``m`` windows breach
  (score >= 1 and enough volume);
- **hysteresis**: it ends only after ``clear_windows`` windows in a row score below
  ``clear_score`` (fire above T_hi, clear below T_lo), so it does not flap;
- **merge**: one incident per episode: ``fire`` once, ``escalate`` only when the
  severity rises, ``resolve`` once; all share the incident's start.

The rule is a small picklable object; :meth:`IncidentRule.step` is a plain
function of (state, evidence) that returns the event, if any.

>>> rule = IncidentRule(k=2, m=3, clear_windows=2)
>>> [rule.step(t, s, "warning") for t, s in enumerate([0.2, 1.3, 0.4, 1.1, 1.6, 0.8, 0.3, 0.2])]
[None, None, None, 'fire', None, None, None, 'resolve']
>>> rule.phase, rule.incident_start
('normal', None)
"""

from __future__ import annotations

from typing import Literal

from sqm.models import SEVERITY_RANK

Event = Literal["fire", "escalate", "resolve"]
Phase = Literal["learning", "normal", "pending", "firing"]


class IncidentRule:
    """k-of-m persistence, hysteresis and one incident per episode, for one KPI series.

    Parameters
    ----------
    k, m
        Fire when ``k`` of the last ``m`` windows breached (``m >= k``).
    clear_windows
        Calm windows in a row that end an incident.
    clear_score
        A window is calm when its score is below this (T_lo; T_hi is 1).
    """

    def __init__(self, k: int = 3, m: int | None = None, clear_windows: int | None = None, clear_score: float = 0.5):
        self.k = k
        self.m = max(m or k, k)
        self.clear_windows = clear_windows or k
        self.clear_score = clear_score
        self.phase: Phase = "learning"
        self.incident_start: float | None = None
        self.severity = "info"
        self.windows = 0
        """Windows since the incident fired."""
        self.ended: tuple[float | None, str] | None = None
        """(start, severity) of the incident that resolved last."""
        self._mask = 0  # bit i set = the window i steps ago breached
        self._run_start: list[float] = []  # times of the breaches still in the mask
        self._calm = 0

    def step(
        self, t: float, score: float, severity: str, *, eligible: bool = True, learning: bool = False
    ) -> Event | None:
        """Feed one window: its time, score and severity; returns the event it causes.

        ``eligible`` is False when the window has too little volume to count as
        a breach; ``learning`` is True while the detector is warming up.
        """
        breach = eligible and not learning and score >= 1.0
        calm = learning or not eligible or score < self.clear_score
        self._mask = ((self._mask << 1) | int(breach)) & ((1 << self.m) - 1)
        if breach:
            self._run_start.append(t)
        self._run_start = self._run_start[-self.m :]
        if self.phase == "firing":
            self.windows += 1
            self._calm = self._calm + 1 if calm else 0
            if self._calm >= self.clear_windows:
                self.ended = (self.incident_start, self.severity)
                self._reset("normal")
                return "resolve"
            if breach and SEVERITY_RANK.get(severity, 1) > SEVERITY_RANK.get(self.severity, 1):
                self.severity = severity
                return "escalate"
            return None
        if learning:
            self.phase = "learning"
            return None
        if breach and bin(self._mask).count("1") >= self.k:
            self.phase = "firing"
            self.incident_start = self._run_start[-min(len(self._run_start), self.k)]
            self.severity = severity
            self.windows = 0
            self._calm = 0
            return "fire"
        self.phase = "pending" if self._mask else "normal"
        if not self._mask:
            self._run_start = []
        return None

    def _reset(self, phase: Phase) -> None:
        self.phase = phase
        self.incident_start = None
        self.severity = "info"
        self.windows = 0
        self._mask = 0
        self._run_start = []
        self._calm = 0

    @property
    def suspect(self) -> bool:
        """True from the first breach until the incident (if any) is over."""
        return self.phase in ("pending", "firing")
