"""Notification groups and the dedup stage (Alertmanager's ``dispatch`` + ``notify/dedup_stage.go``).

Alerts that share a route, a receiver and the values of ``group_by`` form a group;
a group is notified as one digest: first ``group_wait`` after it forms, then at
most every ``group_interval`` when something changed, and every
``repeat_interval`` while alerts keep firing unacknowledged.

``decide`` is a pure function of the group's state, its alerts and ``now``; it
returns a reason that is logged and asserted on:

- ``first``: alerts fire that this group has not told its receiver about,
- ``flapping``: the only news is alerts that started flapping (one notice),
- ``resolved``: alerts it told about have resolved,
- ``repeat_due``: nothing new, but unacknowledged alerts still fire after ``repeat_interval``,
- ``skip``: nothing to say.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

import msgspec

from sqm.models import Alert

NOTIFY_REASONS = ("first", "flapping", "resolved", "repeat_due")


class GroupState(msgspec.Struct, kw_only=True):
    key: str
    receiver: str
    route: str
    labels: dict[str, str]
    group_wait_s: float
    group_interval_s: float
    repeat_interval_s: float
    escalation: str | None = None
    created_at: datetime
    last_notify_at: datetime | None = None
    seq: int = 0
    notified: dict[str, str] = msgspec.field(default_factory=dict)
    """fingerprint → what the receiver was last told: ``firing``, ``flapping`` or ``resolved``."""


@dataclass(frozen=True, slots=True)
class Decision:
    reason: str
    firing: tuple[Alert, ...] = ()
    resolved: tuple[Alert, ...] = ()

    @property
    def send(self) -> bool:
        return self.reason in NOTIFY_REASONS


def decide(group: GroupState, alerts: Sequence[Alert], muted: Collection[str], now: datetime,
           *, send_resolved: bool = True) -> Decision:
    """What to tell this group's receiver now (see the module docstring).

    ``muted`` are fingerprints held back by a silence, an inhibition or quiet hours:
    they are neither announced nor repeated, but a resolution of an alert the
    receiver was told about is still announced.
    """
    firing = [a for a in alerts if a.state in ("firing", "acknowledged") and a.fingerprint not in muted]
    told = group.notified
    resolved = [a for a in alerts if a.state == "resolved" and told.get(a.fingerprint) in ("firing", "flapping")]
    new = [a for a in firing if told.get(a.fingerprint) not in ("firing", "flapping")
           or (a.flapping and told.get(a.fingerprint) != "flapping")]
    shown = tuple(sorted(firing, key=lambda a: (a.state != "firing", a.fingerprint)))
    if new:
        reason = "flapping" if all(a.flapping for a in new) else "first"
        return Decision(reason, shown, tuple(resolved) if send_resolved else ())
    if resolved and send_resolved:
        return Decision("resolved", shown, tuple(resolved))
    unacked = [a for a in firing if a.state == "firing"]
    if unacked and (group.last_notify_at is None
                    or (now - group.last_notify_at).total_seconds() >= group.repeat_interval_s):
        return Decision("repeat_due", shown)
    return Decision("skip")


def newly_told(group: GroupState, decision: Decision) -> list[Alert]:
    """The firing alerts this notice tells the receiver about for the first time (before ``after_send``)."""
    if not decision.send:
        return []
    return [a for a in decision.firing
            if a.state == "firing" and group.notified.get(a.fingerprint) not in ("firing", "flapping")]


def after_send(group: GroupState, decision: Decision, alerts: Sequence[Alert], now: datetime, *,
               send_resolved: bool = True) -> list[str]:
    """Record what the receiver now knows; returns the fingerprints that can leave the group.

    Without ``send_resolved`` nobody waits for a resolved notice: resolved alerts leave at once,
    so the same alert firing again is a new first notice (and arms its escalation again).
    """
    if decision.send:
        group.last_notify_at = now
        group.seq += 1
        for a in decision.firing:
            group.notified[a.fingerprint] = "flapping" if a.flapping else "firing"
    gone = []
    for a in alerts:
        if a.state == "resolved" and (decision.send or not send_resolved or a.fingerprint not in group.notified
                                      or group.notified.get(a.fingerprint) == "resolved"):
            gone.append(a.fingerprint)
            group.notified.pop(a.fingerprint, None)
    return gone
