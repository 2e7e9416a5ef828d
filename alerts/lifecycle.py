"""The life of one alert: pending → firing → acknowledged → resolved, as pure functions.

``observe(alert, anomaly, now, policy)`` folds one anomaly into the alert of its
fingerprint and says what changed; ``due(alert, now, policy)`` applies the timers
(pending → firing, a held resolution, an acknowledgement that lapsed). Both
return a ``Change`` whose ``kind`` is logged and asserted on, and whose
``notify`` says whether the alert's notification groups must look at it.

Hysteresis: a resolution can be held ``resolve_hold_s``; a re-fire within the hold
keeps the alert open without a new notification. Flapping: when an alert changes
between firing and resolved ``flap_threshold`` times within ``flap_window_s`` it is
marked flapping (one "flapping" notice) and its resolutions are held
``flap_hold_s``.

>>> from datetime import UTC, datetime, timedelta
>>> from sqm.models import Anomaly
>>> t0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
>>> a = Anomaly(kpi="csat", window="5m", team="billing", start=t0, end=t0, value=0.7, expected=0.9, detector="swing")
>>> c = observe(None, a, t0, Policy())
>>> c.kind, c.alert.state, c.notify
('firing', 'firing', True)
>>> c2 = observe(c.alert, a, t0 + timedelta(minutes=1), Policy())
>>> c2.kind, c2.alert.sightings, c2.notify
('update', 2, False)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import msgspec

from sqm.config import AlertSettings
from sqm.formatting import format_value
from sqm.models import SEVERITY_RANK, Alert, Anomaly, TimelineEntry


@dataclass(frozen=True, slots=True)
class Policy:
    pending_s: float = 0.0
    resolve_hold_s: float = 0.0
    flap_window_s: float = 1800.0
    flap_threshold: int = 4
    flap_hold_s: float = 900.0
    ack_timeout_s: float = 3600.0
    timeline_max: int = 100

    @classmethod
    def of(cls, s: AlertSettings) -> Policy:
        return cls(s.pending_s, s.resolve_hold_s, s.flap_window_s, s.flap_threshold, s.flap_hold_s,
                   s.ack_timeout_s, s.timeline_max)


@dataclass(frozen=True, slots=True)
class Change:
    alert: Alert | None
    kind: str
    """``firing``, ``pending``, ``flapping``, ``update``, ``escalated_severity``, ``held``, ``resolved``,
    ``dropped`` (pending that ended before firing), ``ignored``, ``stale``, ``acknowledged``, ``ack_lapsed``,
    ``escalated``, ``muted`` (what holds it back changed), ``none``."""
    notify: bool = False

    @property
    def changed(self) -> bool:
        return self.kind not in ("ignored", "stale", "none")


def _why(a: Anomaly) -> str:
    base = f"{a.kpi} {format_value(a.kpi, a.value, alongside=(a.expected,))}"
    if a.expected is not None:
        base += f" vs {format_value(a.kpi, a.expected, alongside=(a.value,))}"
    return base + (f": {a.reason_en}" if a.reason_en else "")


def _log(alert: Alert, at: datetime, state: str, why: str, policy: Policy, by: str = "sqm") -> None:
    alert.timeline.append(TimelineEntry(at=at, state=state, by=by, why=why))
    if len(alert.timeline) > policy.timeline_max:  # keep the first entry (how it started) and the latest ones
        del alert.timeline[1 : len(alert.timeline) - policy.timeline_max + 1]


def note(alert: Alert, at: datetime, why: str, policy: Policy, by: str = "sqm") -> None:
    """Add a timeline entry that is not a state change (escalated, silenced, held back…)."""
    _log(alert, at, alert.state, why, policy, by)


def _copy(alert: Alert) -> Alert:
    return msgspec.structs.replace(alert, timeline=list(alert.timeline), labels=dict(alert.labels))


def _flapping(alert: Alert, now: datetime, policy: Policy) -> bool:
    since = now - timedelta(seconds=policy.flap_window_s)
    changes = sum(1 for e in alert.timeline if e.at >= since and e.state in ("firing", "resolved"))
    return changes >= policy.flap_threshold


def labels_of(a: Anomaly) -> dict[str, str]:
    """The labels an alert is routed, silenced and inhibited by (Anomaly.labels plus ``complaint_grade``)."""
    labels = a.labels
    if a.kpi.startswith("complaint"):
        labels["complaint_grade"] = "major" if "major" in a.detector else "general"
    return labels


def observe(alert: Alert | None, anomaly: Anomaly, now: datetime, policy: Policy) -> Change:
    """Fold one anomaly (firing or resolved) into its alert."""
    if alert is not None and anomaly.end < alert.anomaly.end:
        return Change(alert, "stale")
    if anomaly.status == "resolved":
        return _resolve(alert, anomaly, now, policy)
    if alert is None or alert.state == "resolved":
        return _start(alert, anomaly, now, policy)
    new = _copy(alert)
    new.anomaly, new.updated_at, new.sightings = anomaly, now, alert.sightings + 1
    new.labels = labels_of(anomaly)
    if new.state == "pending":
        if new.hold_until is not None and now >= new.hold_until:
            return _fire(new, now, policy, "pending time over")
        return Change(new, "update")
    if new.hold_until is not None:  # a held resolution: the incident came back, stay open quietly
        new.hold_until = None
        _log(new, now, new.state, "fired again while its resolution was held", policy)
    if SEVERITY_RANK[anomaly.severity] > SEVERITY_RANK[alert.anomaly.severity]:
        _log(new, now, new.state, f"severity {alert.anomaly.severity} → {anomaly.severity}", policy)
        return Change(new, "escalated_severity", notify=True)
    return Change(new, "update")


def _start(old: Alert | None, anomaly: Anomaly, now: datetime, policy: Policy) -> Change:
    started = anomaly.incident_start or anomaly.start
    if old is None:
        new = Alert(fingerprint=anomaly.fingerprint, state="pending", labels=labels_of(anomaly), anomaly=anomaly,
                    started_at=started, updated_at=now, sightings=1)
    else:  # the same fingerprint fires again: a new incident on the same alert, its timeline continues
        new = _copy(old)
        new.state, new.anomaly, new.labels, new.updated_at = "pending", anomaly, labels_of(anomaly), now
        new.started_at, new.resolved_at, new.sightings = started, None, 1
        new.acked_by = new.acked_at = new.ack_expires_at = new.hold_until = None
        new.escalation_level, new.silenced_by, new.inhibited_by = 0, [], None
    if policy.pending_s > 0 and anomaly.severity != "critical":
        new.hold_until = now + timedelta(seconds=policy.pending_s)
        _log(new, now, "pending", _why(anomaly), policy)
        return Change(new, "pending")
    return _fire(new, now, policy, _why(anomaly))


def _fire(new: Alert, now: datetime, policy: Policy, why: str) -> Change:
    new.state, new.hold_until = "firing", None
    _log(new, now, "firing", why, policy)
    if _flapping(new, now, policy) and not new.flapping:
        new.flapping = True
        _log(new, now, "flapping", f"{policy.flap_threshold}+ changes within {policy.flap_window_s:.0f} s", policy)
        return Change(new, "flapping", notify=True)
    return Change(new, "firing", notify=True)


def _resolve(alert: Alert | None, anomaly: Anomaly, now: datetime, policy: Policy) -> Change:
    if alert is None or alert.state == "resolved":
        return Change(alert, "ignored")
    new = _copy(alert)
    new.anomaly, new.updated_at = anomaly, now
    if new.state == "pending":
        new.state, new.resolved_at, new.hold_until = "resolved", now, None
        _log(new, now, "resolved", "ended before it fired", policy)
        return Change(new, "dropped")
    hold = policy.flap_hold_s if new.flapping else policy.resolve_hold_s
    if hold > 0:
        if new.hold_until is None:
            new.hold_until = now + timedelta(seconds=hold)
            _log(new, now, new.state, f"resolution held {hold:.0f} s", policy)
        return Change(new, "held")
    return _close(new, now, policy, "anomaly resolved")


def _close(new: Alert, now: datetime, policy: Policy, why: str) -> Change:
    new.state, new.resolved_at, new.hold_until, new.ack_expires_at = "resolved", now, None, None
    new.flapping = False
    _log(new, now, "resolved", why, policy)
    return Change(new, "resolved", notify=True)


def due(alert: Alert, now: datetime, policy: Policy) -> Change:
    """Apply the alert's timers at ``now``: pending → firing, a held resolution closes, an ack lapses."""
    if alert.hold_until is not None and now >= alert.hold_until:
        new = _copy(alert)
        if new.state == "pending":
            return _fire(new, now, policy, "pending time over")
        if new.state in ("firing", "acknowledged") and new.anomaly.status == "resolved":
            return _close(new, now, policy, "resolution held long enough")
        new.hold_until = None
        return Change(new, "update")
    if alert.state == "acknowledged" and alert.ack_expires_at is not None and now >= alert.ack_expires_at:
        new = _copy(alert)
        new.state, new.ack_expires_at = "firing", None
        _log(new, now, "firing", f"acknowledgement by {alert.acked_by} lapsed", policy)
        return Change(new, "ack_lapsed")
    return Change(alert, "none")


def next_timer(alert: Alert) -> datetime | None:
    """When ``due`` next has something to do for this alert."""
    times = [t for t in (alert.hold_until, alert.ack_expires_at if alert.state == "acknowledged" else None) if t]
    return min(times) if times else None


def acknowledge(alert: Alert, by: str, now: datetime, policy: Policy, *, comment: str = "",
                timeout_s: float | None = None) -> Change:
    """A person takes the alert: escalation stops until it resolves or the acknowledgement lapses."""
    if alert.state in ("resolved", "pending"):
        return Change(alert, "ignored")
    new = _copy(alert)
    lapse = policy.ack_timeout_s if timeout_s is None else timeout_s
    new.state, new.acked_by, new.acked_at = "acknowledged", by, now
    new.ack_expires_at = now + timedelta(seconds=lapse) if lapse > 0 else None
    _log(new, now, "acknowledged", comment or "acknowledged", policy, by=by)
    return Change(new, "acknowledged")


def escalate(alert: Alert | None, level: int, now: datetime, policy: Policy, *, role: str, person: str = "") -> Change:
    """Escalation level ``level`` was sent: the alert waits for the next one (a replayed level changes nothing)."""
    if alert is None or alert.escalation_level != level:
        return Change(alert, "none")
    new = _copy(alert)
    new.escalation_level = level + 1
    note(new, now, f"escalated to {role} {person}".strip(), policy)
    return Change(new, "escalated")


def mark_held(alert: Alert | None, silenced_by: list[str], inhibited_by: str | None, now: datetime,
              policy: Policy) -> Change:
    """Record which silences and which alert hold this one back (shown by the API and the timeline)."""
    if alert is None:
        return Change(None, "ignored")
    new = _copy(alert)
    new.silenced_by, new.inhibited_by = list(silenced_by), inhibited_by
    if silenced_by != alert.silenced_by:
        note(new, now, f"silenced by {', '.join(silenced_by)}" if silenced_by else "no longer silenced", policy)
    if inhibited_by != alert.inhibited_by:
        note(new, now, f"held back while {inhibited_by} fires" if inhibited_by else "no longer held back", policy)
    return Change(new, "muted")
