"""Chatwoot's account webhooks → events.

Signed with ``X-Chatwoot-Signature: sha256=HEX(HMAC-SHA256(secret, "{timestamp}." + body))``
and ``X-Chatwoot-Timestamp`` (epoch seconds).

``conversation_created`` → ``contact.created``; the first public outgoing message of
an agent or bot (``message_created``) → ``contact.first_response``;
``conversation_status_changed`` to resolved → ``contact.resolved``, from resolved back
to open → ``contact.reopened``. Everything else is ignored.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from api.helpdesks.common import (
    BadSignature,
    Helpdesk,
    Mapped,
    Unmappable,
    base_event,
    check_fresh,
    parse_time,
    pick_channel,
    pick_team,
)
from sqm.config import WebhookSource

CHANNELS = {
    "Channel::WebWidget": "chat", "Channel::Api": "chat", "Channel::Email": "email", "Channel::Whatsapp": "chat",
    "Channel::FacebookPage": "chat", "Channel::Instagram": "chat", "Channel::Telegram": "chat", "Channel::Line": "chat",
    "Channel::TwilioSms": "chat", "Channel::Sms": "chat", "Channel::Voice": "phone",
}
_REPLYING_SENDERS = ("user", "agent_bot", "captain_assistant")  # an agent, or a bot answering for one


def verify(secret: str, headers: Mapping[str, str], body: bytes, now: datetime, max_skew_s: float) -> None:
    """Raise BadSignature unless the request carries Chatwoot's signature of this body.

    >>> body, ts = b'{"event":"conversation_created"}', "1772416800"
    >>> sig = "sha256=" + hmac.new(b"s3", ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    >>> now = datetime.fromtimestamp(1772416830, UTC)
    >>> verify("s3", {"x-chatwoot-signature": sig, "x-chatwoot-timestamp": ts}, body, now, 300)
    >>> verify("s4", {"x-chatwoot-signature": sig, "x-chatwoot-timestamp": ts}, body, now, 300)
    Traceback (most recent call last):
    ...
    api.helpdesks.common.BadSignature: signature does not match
    """
    sig, ts = headers.get("x-chatwoot-signature", ""), headers.get("x-chatwoot-timestamp", "")
    if not sig or not ts.isdigit():
        msg = "X-Chatwoot-Signature and X-Chatwoot-Timestamp are required"
        raise BadSignature(msg)
    expected = "sha256=" + hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), sig.strip().encode()):
        msg = "signature does not match"
        raise BadSignature(msg)
    check_fresh(datetime.fromtimestamp(int(ts), UTC), now, max_skew_s)


def _first_reply_sender(payload: dict[str, Any]) -> str | None:
    """The sender type of a public outgoing message by an agent or bot; None for any other message."""
    if payload.get("message_type") not in ("outgoing", 1) or payload.get("private"):
        return None
    sender = (payload.get("sender") or {}).get("type")
    return sender if sender in _REPLYING_SENDERS else None


def _status_change(src: WebhookSource, conv: dict[str, Any], now: datetime, base: str,
                   fields: tuple[str, str, str]) -> list[Mapped]:
    """``conversation_status_changed``: resolved, or reopened (open after resolved); nothing else counts."""
    contact, team, channel = fields
    status = conv.get("status")
    stamp = conv.get("timestamp") or conv.get("last_activity_at") or int(now.timestamp())
    ts = parse_time(stamp) or now
    if status == "resolved":
        return [Mapped(base_event(src, f"{base}:resolved:{stamp}", "contact.resolved", ts, contact, team, channel))]
    previous = [c.get("status", {}).get("previous_value") for c in conv.get("changed_attributes") or []
                if isinstance(c, dict) and isinstance(c.get("status"), dict)]
    if status == "open" and "resolved" in previous:
        return [Mapped(base_event(src, f"{base}:reopened:{stamp}", "contact.reopened", ts, contact, team, channel))]
    return []


def to_events(src: WebhookSource, payload: dict[str, Any], now: datetime, known_teams: set[str]) -> list[Mapped]:
    """One Chatwoot webhook delivery → its events (see the module docstring)."""
    event = payload.get("event")
    sender = None
    if event == "message_created":
        sender = _first_reply_sender(payload)
        if sender is None:
            return []
        conv = payload.get("conversation") or {}
    elif event in ("conversation_created", "conversation_status_changed"):
        conv = payload
    else:
        return []
    conv_id = conv.get("id")
    if conv_id is None:
        msg = "the conversation has no id"
        raise Unmappable(msg, field="conversation.id" if event == "message_created" else "id")
    account = (payload.get("account") or {}).get("id") or conv.get("account_id") or payload.get("account_id") or "0"
    contact = f"chatwoot-{account}-{conv_id}"
    team = pick_team(src, known_teams, [
        ("meta.team.name", ((conv.get("meta") or {}).get("team") or {}).get("name")),
        ("inbox.name", (payload.get("inbox") or {}).get("name")),
        ("inbox_id", f"inbox:{conv['inbox_id']}" if conv.get("inbox_id") is not None else None),
    ])
    channel = pick_channel(src, CHANNELS, conv.get("channel"))
    base = f"{src.name}:{contact}"
    if event == "conversation_created":
        ts = parse_time(conv.get("created_at")) or now
        return [Mapped(base_event(src, f"{base}:created", "contact.created", ts, contact, team, channel))]
    if event == "message_created":
        ts = parse_time(payload.get("created_at")) or now
        ev = base_event(src, f"{base}:first_response", "contact.first_response", ts, contact, team, channel)
        ev["by"] = "agent" if sender == "user" else "bot"
        return [Mapped(ev, once=f"{contact}:first_response")]
    return _status_change(src, conv, now, base, (contact, team, channel))


HELPDESK = Helpdesk("chatwoot", verify=verify, map=to_events)
