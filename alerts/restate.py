"""A notification restated at send time: it says what is true when it goes out, not when it was queued.

A notification can wait in the outbox for a long time (a receiver down, a rate limit, quiet hours
that ended): the alerts it names may have been acknowledged or resolved meanwhile, and their age
has grown. Just before a notification is sent, ``restate`` reads its alerts' current state and
decides what a supervisor should get:

=====================  ===================================================================
what changed            what is sent
=====================  ===================================================================
nothing                 the message with the current age and values ("for 38 min")
some acknowledged       those alerts say who acknowledged them, without an ack link; a digest
                        whose every firing alert is acknowledged is titled ``[ACKED]``
some resolved           they move to the digest's resolved list
all resolved            nothing: the digest is ``superseded`` (the group's resolved notice,
                        when ``send_resolved``, says it ended)
an escalation whose     nothing: ``superseded`` (paging the next level for an alert someone
alert is no longer      took, or that ended, only wakes a manager for nothing)
firing
=====================  ===================================================================

Resolved notices and test messages are sent as they are (an end stays true). An alert that is no
longer stored (purged) keeps the view it was queued with. ``restate`` is pure: the current alerts
and the view builder are passed in.

>>> from datetime import UTC, datetime
>>> from sqm.models import Alert, Anomaly
>>> t = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
>>> an = Anomaly(kpi="csat", window="5m", team="billing", start=t, end=t, value=0.7, detector="swing")
>>> acked = Alert(fingerprint=an.fingerprint, state="acknowledged", labels=an.labels, anomaly=an, started_at=t,
...               updated_at=t, acked_by="wang")
>>> queued = {"reason": "first", "firing": {"en": [{"fingerprint": an.fingerprint, "acked_by": ""}]}, "resolved": {}}
>>> ctx, why = restate(queued, {an.fingerprint: acked}, lambda a, lang: {"fingerprint": a.fingerprint,
...                                                                     "acked_by": a.acked_by})
>>> why, ctx["reason"], ctx["firing"]["en"][0]["acked_by"]
('acknowledged', 'acknowledged', 'wang')
>>> restate({**queued, "reason": "escalation"}, {an.fingerprint: acked}, lambda a, lang: {})
(None, 'superseded: acknowledged')
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqm.models import Alert

ViewOf = Callable[[Alert, str], dict[str, Any]]
"""(alert, language) → its ``alerts.messages.alert_view`` now (with an ack link while it fires)."""

RESTATED = ("first", "repeat_due", "flapping", "escalation", "acknowledged")
"""Reasons of notifications that say an alert fires: the ones restated at send time."""


def _fingerprints(views: Any) -> list[str]:
    rows = views.get("en") or next(iter(views.values()), []) if isinstance(views, dict) else views or []
    return [v["fingerprint"] for v in rows if isinstance(v, dict) and "fingerprint" in v]


def _langs(ctx: dict[str, Any]) -> list[str]:
    firing = ctx.get("firing")
    return list(firing) if isinstance(firing, dict) and firing else ["zh", "en"]


def restate(ctx: dict[str, Any], current: Mapping[str, Alert], view_of: ViewOf) -> tuple[dict[str, Any] | None, str]:
    """The notification's context as of now, or None when it is superseded; and why (logged)."""
    reason = ctx.get("reason", "")
    fps = _fingerprints(ctx.get("firing"))
    if reason not in RESTATED or not fps:
        return ctx, "unchanged"
    alerts = [current.get(fp) for fp in fps]
    if reason == "escalation":
        head = alerts[0]
        if head is not None and head.state != "firing":
            return None, f"superseded: {head.state}"
    ended = [a for a in alerts if a is not None and a.state == "resolved"]
    still = [(fp, a) for fp, a in zip(fps, alerts, strict=True) if a is None or a.state != "resolved"]
    if not still:
        return None, "superseded: resolved"
    langs = _langs(ctx)
    old = {lang: {v.get("fingerprint"): v for v in _rows(ctx.get("firing"), lang)} for lang in langs}
    firing = {lang: [view_of(a, lang) if a is not None else old[lang].get(fp, {}) for fp, a in still]
              for lang in langs}
    resolved = {lang: [*_rows(ctx.get("resolved"), lang), *(view_of(a, lang) for a in ended)] for lang in langs}
    acked = all(a is not None and a.state == "acknowledged" for _, a in still)
    new_reason = "acknowledged" if acked and reason != "escalation" else reason
    why = "acknowledged" if acked else ("resolved in part" if ended else "current")
    return {**ctx, "reason": new_reason, "firing": firing, "resolved": resolved}, why


def _rows(views: Any, lang: str) -> list[dict[str, Any]]:
    if isinstance(views, dict):
        return list(views.get(lang) or views.get("en") or [])
    return list(views or [])
