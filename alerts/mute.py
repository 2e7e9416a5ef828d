"""The mute stage: is a notification about this alert to this receiver held back now, and why?

One decision for digests and escalations alike, in Alertmanager's order (inhibit → silence →
quiet hours). ``MuteStage.decide(alert, receiver, now)`` returns a ``MuteDecision`` whose
``reason`` is logged and asserted on:

==============  =====  ======================================================================
reason          muted  when
==============  =====  ======================================================================
``inhibited``   yes    a firing alert holds it back (``inhibit_rules``)
``silenced``    yes    an active silence matches its labels
``quiet_hours`` yes    inside the receiver's quiet hours and below critical (``until``: their end)
``resolved``    no     a resolution is never held: who was told it fires is told it ended
``critical``    no     inside the receiver's quiet hours, but critical
``none``        no     nothing holds it
==============  =====  ======================================================================

A held digest is flushed again at its group interval (or at the end of the quiet hours); a held
escalation level is tried again at ``recheck_at``. The stage is a pure object: the engine
builds it once per round from the silences and the active alerts it read.

>>> from datetime import UTC, datetime
>>> from sqm.config import QuietHours
>>> from sqm.models import Alert, Anomaly
>>> t = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai
>>> an = Anomaly(kpi="csat", window="5m", team="billing", start=t, end=t, value=0.7, detector="swing")
>>> alert = Alert(fingerprint=an.fingerprint, state="firing", labels=an.labels, anomaly=an, started_at=t, updated_at=t)
>>> stage = MuteStage(quiet_hours={"ops": [QuietHours(start="22:00", end="08:00")]}, tz=ZoneInfo("Asia/Shanghai"))
>>> d = stage.decide(alert, "ops", t)
>>> d.reason, d.muted, d.until.isoformat()
('quiet_hours', True, '2026-03-03T08:00:00+08:00')
>>> stage.decide(alert, "managers", t).reason
'none'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from alerts.silences import Silence, inhibited_by, quiet_until, silenced_by
from sqm.config import InhibitRule, QuietHours
from sqm.matchers import matches_all, parse_all
from sqm.models import Alert

MUTING = ("inhibited", "silenced", "quiet_hours")
RECHECK_S = 60.0
"""A held escalation looks again this soon when nothing says when the hold ends (a silence can be
expired early, an inhibiting alert can resolve at any time)."""


@dataclass(frozen=True, slots=True)
class MuteDecision:
    reason: str
    until: datetime | None = None
    """The end of the quiet hours that hold it (None when nothing says when the hold ends)."""
    silenced_by: tuple[str, ...] = ()
    inhibited_by: str | None = None
    """What holds the alert back, whatever the reason: recorded on the alert and shown to supervisors."""

    @property
    def muted(self) -> bool:
        return self.reason in MUTING

    def recheck_at(self, now: datetime) -> datetime:
        """When a held escalation is worth trying again."""
        if self.reason == "quiet_hours" and self.until is not None:
            return self.until
        return now + timedelta(seconds=RECHECK_S)


class MuteStage:
    def __init__(self, *, silences: Sequence[Silence] = (), active: Sequence[Alert] = (),
                 inhibit_rules: Sequence[InhibitRule] = (), quiet_hours: Mapping[str, Sequence[QuietHours]],
                 tz: ZoneInfo) -> None:
        self.silences = list(silences)
        self.active = list(active)
        self.inhibit_rules = list(inhibit_rules)
        self.quiet_hours = quiet_hours
        self.tz = tz

    def decide(self, alert: Alert, receiver: str, now: datetime) -> MuteDecision:
        if alert.state == "resolved":
            return MuteDecision("resolved")
        inhibitor = self._inhibitor(alert)
        silences = tuple(silenced_by(self.silences, alert.labels, now))
        quiet_end = quiet_until(self.quiet_hours.get(receiver, ()), now, self.tz)
        if inhibitor is not None:
            reason = "inhibited"
        elif silences:
            reason = "silenced"
        elif quiet_end is not None:
            reason = "critical" if alert.anomaly.severity == "critical" else "quiet_hours"
        else:
            reason = "none"
        return MuteDecision(reason, quiet_end if reason == "quiet_hours" else None, silences, inhibitor)

    def _inhibitor(self, alert: Alert) -> str | None:
        rules = [r for r in self.inhibit_rules if matches_all(parse_all(r.target), alert.labels)]
        return inhibited_by(rules, alert, self.active) if rules else None
