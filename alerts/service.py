"""Plain functions over Redis for the API (no FastAPI here): alerts, acknowledgement, silences,
routing dry-run and delivery status. Every result is an sqm record or a plain dict; URLs
appear only masked.

Alerts and silences are read and written through ``alerts.store.AlertStore``, the same store
the engine uses: an acknowledgement is one transition of the stored alert, not an engine.

Errors: ``UnknownAlert`` (no such fingerprint), ``acklink.InvalidToken`` (bad/expired
link), ``ValueError`` (a bad silence: the message names the field).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from alerts import lifecycle
from alerts.acklink import InvalidToken, secret_of, verify_token
from alerts.channels import target
from alerts.lifecycle import Change, Policy
from alerts.outbox import Notification, latest_attempts, latest_notifications, read_notification, urls_of
from alerts.routing import dry_run
from alerts.silences import Silence, new_silence
from alerts.store import AlertStore
from sqm.clock import Clock, SystemClock
from sqm.config import Settings
from sqm.errors import SqmError
from sqm.matchers import matches_all, parse
from sqm.models import Alert, to_builtins

__all__ = [
    "InvalidToken", "UnknownAlert", "ack_with_token", "acknowledge", "create_silence", "delivery_attempts",
    "expire_silence", "fingerprint_of_token", "get_alert", "get_notification", "list_alerts", "list_notifications",
    "list_silences", "notifications_of", "receivers", "route_dry_run",
]

class UnknownAlert(SqmError):
    """No alert with this fingerprint."""


def _now(clock: Clock | None) -> datetime:
    return (clock or SystemClock()).now()


# --- alerts ------------------------------------------------------------------------
def list_alerts(redis: Any, *, state: str | Sequence[str] | None = None, limit: int = 200,
                active_only: bool = False, matchers: Sequence[str] = ()) -> list[Alert]:
    """Alerts, most recently updated first; ``state`` filters (e.g. ``["firing", "acknowledged"]``), and so do
    label ``matchers`` (``["team=billing", "severity!=info"]``; a bad one raises ValueError naming it)."""
    wanted_labels = [parse(m) for m in matchers]
    store = AlertStore(redis)
    alerts = store.active() if active_only else store.recent(limit * 4)
    wanted = {state} if isinstance(state, str) else set(state) if state else None
    if wanted:
        alerts = [a for a in alerts if a.state in wanted]
    if wanted_labels:
        alerts = [a for a in alerts if matches_all(wanted_labels, a.labels)]
    alerts.sort(key=lambda a: a.updated_at, reverse=True)
    return alerts[:limit]


def get_alert(redis: Any, fingerprint: str) -> Alert:
    alert = AlertStore(redis).get(fingerprint)
    if alert is None:
        msg = f"alert {fingerprint!r} not found"
        raise UnknownAlert(msg)
    return alert


def acknowledge(redis: Any, settings: Settings, fingerprint: str, by: str, *, comment: str = "",
                timeout_s: float | None = None, clock: Clock | None = None) -> Alert:
    """Acknowledge a firing alert: escalation stops until it resolves or the acknowledgement lapses.

    One transition of the stored alert (its escalation leaves the schedule in the same
    transaction). Acknowledging a resolved or pending alert changes nothing (returned as it is).
    """
    now, policy = _now(clock), Policy.of(settings.alerts)

    def ack(alert: Alert | None) -> Change:
        if alert is None:
            return Change(None, "ignored")
        return lifecycle.acknowledge(alert, by, now, policy, comment=comment, timeout_s=timeout_s)

    change = AlertStore(redis).apply(fingerprint, ack)
    if change.alert is None:
        msg = f"alert {fingerprint!r} not found"
        raise UnknownAlert(msg)
    return change.alert


def fingerprint_of_token(settings: Settings, token: str, *, clock: Clock | None = None) -> str:
    """The alert a signed acknowledge link names; raises InvalidToken (malformed, forged, expired, links off)."""
    secret = secret_of(settings)
    if secret is None:
        msg = "ack link: links are disabled (alerts.signing_secret is not set)"
        raise InvalidToken(msg)
    return verify_token(secret, token, _now(clock))


def ack_with_token(redis: Any, settings: Settings, token: str, *, by: str = "ack link",
                   clock: Clock | None = None) -> Alert:
    """Acknowledge through a signed link from a message; raises InvalidToken."""
    fp = fingerprint_of_token(settings, token, clock=clock)
    return acknowledge(redis, settings, fp, by, comment="acknowledged from the link in a message", clock=clock)


# --- silences ----------------------------------------------------------------------
def create_silence(redis: Any, matchers: Sequence[str], starts_at: datetime | None, ends_at: datetime,
                   created_by: str, *, comment: str = "", expire_when_resolved: bool = False,
                   clock: Clock | None = None) -> Silence:
    now = _now(clock)
    s = new_silence(matchers, starts_at or now, ends_at, created_by, comment=comment,
                    expire_when_resolved=expire_when_resolved, now=now)
    AlertStore(redis).put_silence(s)
    return s


def list_silences(redis: Any, *, include_expired: bool = False, clock: Clock | None = None) -> list[Silence]:
    now = _now(clock)
    out = AlertStore(redis).silences()
    if not include_expired:
        out = [s for s in out if s.expired_at is None and s.ends_at > now]
    return sorted(out, key=lambda s: s.starts_at)


def expire_silence(redis: Any, silence_id: str, *, clock: Clock | None = None) -> Silence:
    store = AlertStore(redis)
    s = store.silence(silence_id)
    if s is None:
        msg = f"silence {silence_id!r} not found"
        raise KeyError(msg)
    if s.expired_at is None:
        s.expired_at = _now(clock)
        store.put_silence(s)
    return s


# --- routing and delivery ----------------------------------------------------------
def route_dry_run(settings: Settings, labels: dict[str, str]) -> list[dict[str, Any]]:
    """Which receivers an alert with these labels reaches, and with which grouping/escalation."""
    return dry_run(settings.alerts, labels)


def receivers(settings: Settings) -> list[dict[str, Any]]:
    """The configured receivers with their URLs masked."""
    return [
        {"name": r.name, "language": r.language, "failover": r.failover,
         "channels": [target(u).masked for u in urls_of(r)],
         "quiet_hours": [q.model_dump() for q in r.quiet_hours]}
        for r in settings.alerts.receivers
    ]


def list_notifications(redis: Any, *, status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Notifications in the outbox (pending first, then the latest finished), as plain dicts."""
    out = [_public(n) for n in latest_notifications(redis, limit)]
    if status:
        out = [n for n in out if n["status"] == status]
    return out[:limit]


def notifications_of(redis: Any, fingerprint: str, *, scan: int = 1000) -> list[dict[str, Any]]:
    """The notifications (with their attempts) that carried one alert, among the latest ``scan``."""
    return [n for n in list_notifications(redis, limit=scan) if fingerprint in n["fingerprints"]]


def get_notification(redis: Any, notification_id: str) -> dict[str, Any] | None:
    n = read_notification(redis, notification_id)
    return _public(n) if n else None


def _public(n: Notification) -> dict[str, Any]:
    d = to_builtins(n)
    d.pop("ctx", None)  # rendered content holds links with signed tokens
    return d


def delivery_attempts(redis: Any, *, limit: int = 100) -> list[dict[str, str]]:
    """The latest delivery attempts (newest first): channel (masked), status, vendor code, latency."""
    return latest_attempts(redis, limit)
