"""A Zendesk trigger or automation → one event.

The trigger posts the JSON body given in docs/api.md (``event``, ``ticket_id``,
``group``, ``brand``, ``channel``, ``at``, ``rating``), signed the way Zendesk signs
webhooks: ``X-Zendesk-Webhook-Signature: BASE64(HMAC-SHA256(secret, timestamp + body))``
with ``X-Zendesk-Webhook-Signature-Timestamp`` (RFC 3339).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime

import msgspec

from api.helpdesks.common import (
    BadSignature,
    Helpdesk,
    Mapped,
    Unmappable,
    base_event,
    check_fresh,
    decode_payload,
    parse_time,
    pick_channel,
    pick_team,
    time_or_now,
)
from sqm.config import WebhookSource

CHANNELS = {
    "web form": "email", "web_form": "email", "email": "email", "mail": "email", "chat": "chat", "messaging": "chat",
    "web widget": "chat", "phone call (incoming)": "phone", "phone call (outgoing)": "phone", "voice": "phone",
    "phone": "phone", "voicemail": "phone", "wechat": "wechat",
}
EVENT_TYPES = {
    "ticket.created": "contact.created",
    "ticket.first_reply": "contact.first_response",
    "ticket.solved": "contact.resolved",
    "ticket.reopened": "contact.reopened",
    "satisfaction.rated": "survey.csat",
}
"""The trigger body's ``event`` → the ServiceEvent type it becomes."""


class Trigger(msgspec.Struct, frozen=True):
    """The fields of the trigger body sqm reads (any others are ignored)."""

    event: str | None = None
    ticket_id: str | int | None = None
    group: str | None = None
    brand: str | None = None
    channel: str | None = None
    at: str | int | float | None = None
    rating: str | None = None


def verify(secret: str, headers: Mapping[str, str], body: bytes, now: datetime, max_skew_s: float) -> None:
    """Raise BadSignature unless the request carries Zendesk's webhook signature of this body.

    >>> body, ts = b'{"event":"ticket.created"}', "2026-03-02T02:00:00Z"
    >>> sig = base64.b64encode(hmac.new(b"s3", ts.encode() + body, hashlib.sha256).digest()).decode()
    >>> now = datetime.fromisoformat("2026-03-02T02:00:30+00:00")
    >>> verify("s3", {"x-zendesk-webhook-signature": sig, "x-zendesk-webhook-signature-timestamp": ts}, body, now, 300)
    >>> verify("s3", {"x-zendesk-webhook-signature": sig, "x-zendesk-webhook-signature-timestamp": ts}, body, now, 10)
    Traceback (most recent call last):
    ...
    api.helpdesks.common.BadSignature: signature timestamp is 30 s away from now (allowed 10 s)
    """
    sig = headers.get("x-zendesk-webhook-signature", "")
    ts = headers.get("x-zendesk-webhook-signature-timestamp", "")
    if not sig or not ts:
        msg = "X-Zendesk-Webhook-Signature and X-Zendesk-Webhook-Signature-Timestamp are required"
        raise BadSignature(msg)
    expected = base64.b64encode(hmac.new(secret.encode(), ts.encode() + body, hashlib.sha256).digest())
    if not hmac.compare_digest(expected, sig.strip().encode()):
        msg = "signature does not match"
        raise BadSignature(msg)
    at = parse_time(ts)
    if at is None:
        msg = f"X-Zendesk-Webhook-Signature-Timestamp is not a time: {ts[:40]!r}"
        raise BadSignature(msg)
    check_fresh(at, now, max_skew_s)


def _csat_score(payload: Trigger) -> int:
    rating = (payload.rating or "").lower()
    if rating not in ("good", "bad"):
        msg = f"must be good or bad, got {rating!r}"
        raise Unmappable(msg, field="rating")
    return 5 if rating == "good" else 1


def to_events(src: WebhookSource, body: bytes, now: datetime, known_teams: set[str]) -> list[Mapped]:
    """The trigger body → one event (``satisfaction.rated``: good = 5, bad = 1)."""
    payload = decode_payload(body, Trigger)
    kind = EVENT_TYPES.get(payload.event or "")
    if kind is None:
        msg = f"unknown event {payload.event!r} (known: {', '.join(EVENT_TYPES)})"
        raise Unmappable(msg, field="event")
    ticket = str(payload.ticket_id if payload.ticket_id is not None else "").strip()
    if not ticket:
        msg = "required"
        raise Unmappable(msg, field="ticket_id")
    team = pick_team(src, known_teams, [("group", payload.group or None), ("brand", payload.brand or None)])
    channel = pick_channel(src, CHANNELS, payload.channel)
    ts = time_or_now(payload.at, now, "at")
    contact = f"zendesk-{ticket}"
    ev = base_event(src, f"{src.name}:{contact}:{payload.event}:{int(ts.timestamp())}", kind, ts, contact, team, channel)
    if kind == "survey.csat":
        ev["score"] = _csat_score(payload)
    if kind == "contact.first_response":
        ev["event_id"] = f"{src.name}:{contact}:first_response"
        ev["by"] = "agent"
        return [Mapped(ev, once=f"{contact}:first_response")]
    if kind == "contact.created":
        ev["event_id"] = f"{src.name}:{contact}:created"
    return [Mapped(ev)]


HELPDESK = Helpdesk("zendesk", verify=verify, map=to_events)
