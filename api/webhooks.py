"""Helpdesk webhooks → ServiceEvents: signature checks and payload adapters.

A helpdesk sends facts in its own shape; an adapter turns one payload into
``Mapped`` items (an event as a plain dict, plus an optional *once* key: the
event is sent only the first time that key is seen, e.g. the first agent reply
of a conversation). What cannot be mapped raises ``Unmappable`` naming the field;
the route dead-letters it (``sqm:dlq``) rather than refusing the delivery, so the
helpdesk does not retry or disable the webhook.

- ``chatwoot``: Chatwoot's account webhooks (``conversation_created``,
  ``message_created``, ``conversation_status_changed``), signed with
  ``X-Chatwoot-Signature: sha256=HEX(HMAC-SHA256(secret, "{timestamp}." + body))``
  and ``X-Chatwoot-Timestamp`` (epoch seconds).
- ``zendesk``: a Zendesk trigger or automation posting the JSON body given in
  docs/api.md, signed the way Zendesk signs webhooks:
  ``X-Zendesk-Webhook-Signature: BASE64(HMAC-SHA256(secret, timestamp + body))`` with
  ``X-Zendesk-Webhook-Signature-Timestamp`` (RFC 3339).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqm.config import WebhookSource

_NAME = re.compile(r"^[^\s:*|,=]{1,64}$")

CHATWOOT_CHANNELS = {
    "Channel::WebWidget": "chat", "Channel::Api": "chat", "Channel::Email": "email", "Channel::Whatsapp": "chat",
    "Channel::FacebookPage": "chat", "Channel::Instagram": "chat", "Channel::Telegram": "chat", "Channel::Line": "chat",
    "Channel::TwilioSms": "chat", "Channel::Sms": "chat", "Channel::Voice": "phone",
}
ZENDESK_CHANNELS = {
    "web form": "email", "web_form": "email", "email": "email", "mail": "email", "chat": "chat", "messaging": "chat",
    "web widget": "chat", "phone call (incoming)": "phone", "phone call (outgoing)": "phone", "voice": "phone",
    "phone": "phone", "voicemail": "phone", "wechat": "wechat",
}


class Unmappable(Exception):
    """A payload that cannot become a ServiceEvent; ``field`` names the payload field."""

    def __init__(self, reason: str, *, field: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


class BadSignature(Exception):
    """The signature or its timestamp is missing, wrong or too old."""


@dataclass(frozen=True, slots=True)
class Mapped:
    event: dict[str, Any]
    once: str | None = None


# --- signatures ----------------------------------------------------------------------
def _fresh(at: datetime, now: datetime, max_skew_s: float) -> None:
    skew = abs((now - at).total_seconds())
    if skew > max_skew_s:
        msg = f"signature timestamp is {skew:.0f} s away from now (allowed {max_skew_s:.0f} s)"
        raise BadSignature(msg)


def verify_chatwoot(secret: str, headers: Mapping[str, str], body: bytes, now: datetime, max_skew_s: float) -> None:
    """Raise BadSignature unless the request carries Chatwoot's signature of this body.

    >>> body, ts = b'{"event":"conversation_created"}', "1772416800"
    >>> sig = "sha256=" + hmac.new(b"s3", ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    >>> now = datetime.fromtimestamp(1772416830, UTC)
    >>> verify_chatwoot("s3", {"x-chatwoot-signature": sig, "x-chatwoot-timestamp": ts}, body, now, 300)
    >>> verify_chatwoot("s4", {"x-chatwoot-signature": sig, "x-chatwoot-timestamp": ts}, body, now, 300)
    Traceback (most recent call last):
    ...
    api.webhooks.BadSignature: signature does not match
    """
    sig, ts = headers.get("x-chatwoot-signature", ""), headers.get("x-chatwoot-timestamp", "")
    if not sig or not ts.isdigit():
        msg = "X-Chatwoot-Signature and X-Chatwoot-Timestamp are required"
        raise BadSignature(msg)
    expected = "sha256=" + hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), sig.strip().encode()):
        msg = "signature does not match"
        raise BadSignature(msg)
    _fresh(datetime.fromtimestamp(int(ts), UTC), now, max_skew_s)


def verify_zendesk(secret: str, headers: Mapping[str, str], body: bytes, now: datetime, max_skew_s: float) -> None:
    """Raise BadSignature unless the request carries Zendesk's webhook signature of this body."""
    sig = headers.get("x-zendesk-webhook-signature", "")
    ts = headers.get("x-zendesk-webhook-signature-timestamp", "")
    if not sig or not ts:
        msg = "X-Zendesk-Webhook-Signature and X-Zendesk-Webhook-Signature-Timestamp are required"
        raise BadSignature(msg)
    expected = base64.b64encode(hmac.new(secret.encode(), ts.encode() + body, hashlib.sha256).digest())
    if not hmac.compare_digest(expected, sig.strip().encode()):
        msg = "signature does not match"
        raise BadSignature(msg)
    at = _time(ts)
    if at is None:
        msg = f"X-Zendesk-Webhook-Signature-Timestamp is not a time: {ts[:40]!r}"
        raise BadSignature(msg)
    _fresh(at, now, max_skew_s)


VERIFY: dict[str, Callable[[str, Mapping[str, str], bytes, datetime, float], None]] = {
    "chatwoot": verify_chatwoot,
    "zendesk": verify_zendesk,
}


# --- shared helpers ------------------------------------------------------------------
def _time(value: Any) -> datetime | None:
    """Epoch seconds or an RFC 3339 string (``Z`` allowed) as an aware datetime; None if neither.

    >>> _time(1772416800).isoformat(), _time("2026-03-02T02:00:00.000Z").isoformat(), _time("soon")
    ('2026-03-02T02:00:00+00:00', '2026-03-02T02:00:00+00:00', None)
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str) and value:
        if value.isdigit():
            return datetime.fromtimestamp(int(value), UTC)
        try:
            at = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return at if at.tzinfo is not None else None
    return None


def _team(src: WebhookSource, known: set[str], candidates: list[tuple[str, Any]]) -> str:
    """The sqm team: the first candidate in ``team_map``, else a candidate that is an sqm team, else the default."""
    for _, value in candidates:
        if value is not None and str(value) in src.team_map:
            return src.team_map[str(value)]
    for _, value in candidates:
        if value is not None and str(value).lower() in known:
            return str(value).lower()
    if src.default_team:
        return src.default_team
    field, value = next(((f, v) for f, v in candidates if v is not None), (candidates[0][0], None))
    msg = f"no sqm team for {value!r} (add it to api.webhooks[{src.name}].team_map or set default_team)"
    raise Unmappable(msg, field=field)


def _channel(src: WebhookSource, builtin: Mapping[str, str], raw: Any) -> str:
    key = str(raw or "")
    found = src.channel_map.get(key) or builtin.get(key) or builtin.get(key.lower()) or src.default_channel
    if not _NAME.match(found):
        msg = f"channel {found!r} is not a valid sqm channel name"
        raise Unmappable(msg, field="channel")
    return found


def _base(src: WebhookSource, event_id: str, kind: str, ts: datetime, contact: str, team: str, channel: str) -> dict[str, Any]:
    return {"event_id": event_id, "type": kind, "ts": ts.isoformat(), "contact_id": contact, "team": team,
            "channel": channel, "region": src.region}


# --- Chatwoot ------------------------------------------------------------------------
def chatwoot(src: WebhookSource, payload: dict[str, Any], now: datetime, known_teams: set[str]) -> list[Mapped]:
    """Chatwoot account webhook → events.

    ``conversation_created`` → ``contact.created``; the first public outgoing message
    of an agent or bot (``message_created``) → ``contact.first_response``;
    ``conversation_status_changed`` to resolved → ``contact.resolved``, from resolved
    back to open → ``contact.reopened``. Everything else is ignored.
    """
    event = payload.get("event")
    if event == "message_created":
        if payload.get("message_type") not in ("outgoing", 1) or payload.get("private"):
            return []
        sender = (payload.get("sender") or {}).get("type")
        if sender not in ("user", "agent_bot", "captain_assistant"):
            return []
        conv = payload.get("conversation") or {}
    elif event in ("conversation_created", "conversation_status_changed"):
        conv = payload
    else:
        return []
    conv_id = conv.get("id")
    if conv_id is None:
        field = "conversation.id" if event == "message_created" else "id"
        msg = "the conversation has no id"
        raise Unmappable(msg, field=field)
    account = (payload.get("account") or {}).get("id") or conv.get("account_id") or payload.get("account_id") or "0"
    contact = f"chatwoot-{account}-{conv_id}"
    meta = conv.get("meta") or {}
    team = _team(src, known_teams, [
        ("meta.team.name", (meta.get("team") or {}).get("name")),
        ("inbox.name", (payload.get("inbox") or {}).get("name")),
        ("inbox_id", f"inbox:{conv['inbox_id']}" if conv.get("inbox_id") is not None else None),
    ])
    channel = _channel(src, CHATWOOT_CHANNELS, conv.get("channel"))
    base = f"{src.name}:{contact}"
    if event == "conversation_created":
        ts = _time(conv.get("created_at")) or now
        return [Mapped(_base(src, f"{base}:created", "contact.created", ts, contact, team, channel))]
    if event == "message_created":
        ts = _time(payload.get("created_at")) or now
        ev = _base(src, f"{base}:first_response", "contact.first_response", ts, contact, team, channel)
        ev["by"] = "agent" if sender == "user" else "bot"
        return [Mapped(ev, once=f"{contact}:first_response")]
    status = conv.get("status")
    stamp = conv.get("timestamp") or conv.get("last_activity_at") or int(now.timestamp())
    ts = _time(stamp) or now
    if status == "resolved":
        return [Mapped(_base(src, f"{base}:resolved:{stamp}", "contact.resolved", ts, contact, team, channel))]
    previous = [c.get("status", {}).get("previous_value") for c in conv.get("changed_attributes") or []
                if isinstance(c, dict) and isinstance(c.get("status"), dict)]
    if status == "open" and "resolved" in previous:
        return [Mapped(_base(src, f"{base}:reopened:{stamp}", "contact.reopened", ts, contact, team, channel))]
    return []


# --- Zendesk-style -------------------------------------------------------------------
_ZENDESK_TYPES = {
    "ticket.created": "contact.created",
    "ticket.first_reply": "contact.first_response",
    "ticket.solved": "contact.resolved",
    "ticket.reopened": "contact.reopened",
    "satisfaction.rated": "survey.csat",
}


def zendesk(src: WebhookSource, payload: dict[str, Any], now: datetime, known_teams: set[str]) -> list[Mapped]:
    """The documented trigger body → one event (``satisfaction.rated``: good = 5, bad = 1)."""
    event = payload.get("event")
    kind = _ZENDESK_TYPES.get(str(event))
    if kind is None:
        msg = f"unknown event {event!r} (known: {', '.join(_ZENDESK_TYPES)})"
        raise Unmappable(msg, field="event")
    ticket = str(payload.get("ticket_id") or "").strip()
    if not ticket:
        msg = "required"
        raise Unmappable(msg, field="ticket_id")
    team = _team(src, known_teams, [("group", payload.get("group") or None), ("brand", payload.get("brand") or None)])
    channel = _channel(src, ZENDESK_CHANNELS, payload.get("channel"))
    ts = _time(payload.get("at")) or now
    contact = f"zendesk-{ticket}"
    stamp = int(ts.timestamp())
    ev = _base(src, f"{src.name}:{contact}:{event}:{stamp}", kind, ts, contact, team, channel)
    if kind == "survey.csat":
        rating = str(payload.get("rating") or "").lower()
        if rating not in ("good", "bad"):
            msg = f"must be good or bad, got {rating!r}"
            raise Unmappable(msg, field="rating")
        ev["score"] = 5 if rating == "good" else 1
    if kind == "contact.first_response":
        ev["event_id"] = f"{src.name}:{contact}:first_response"
        ev["by"] = "agent"
        return [Mapped(ev, once=f"{contact}:first_response")]
    if kind == "contact.created":
        ev["event_id"] = f"{src.name}:{contact}:created"
    return [Mapped(ev)]


ADAPTERS: dict[str, Callable[[WebhookSource, dict[str, Any], datetime, set[str]], list[Mapped]]] = {
    "chatwoot": chatwoot,
    "zendesk": zendesk,
}
