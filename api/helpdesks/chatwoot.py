"""Chatwoot's account webhooks → events.

Signed with ``X-Chatwoot-Signature: sha256=HEX(HMAC-SHA256(secret, "{timestamp}." + body))``
and ``X-Chatwoot-Timestamp`` (epoch seconds).

``conversation_created`` → ``contact.created``; the first public outgoing message of
an agent or bot (``message_created``) → ``contact.first_response``; a public incoming
message with content (``message_created``, ``message_type`` incoming) →
``contact.message`` (author ``customer``, its ``content`` as ``text``); a submitted CSAT
survey (``message_updated`` of an ``input_csat`` message whose
``content_attributes.submitted_values.csat_survey_response`` has a ``rating``) →
``survey.csat`` with its ``feedback_message`` as ``text``;
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
from sqm.models import TEXT_MAX

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


def _customer_text(payload: dict[str, Any]) -> str | None:
    """The content of a public incoming message by the customer; None for any other message."""
    if payload.get("message_type") not in ("incoming", 0) or payload.get("private"):
        return None
    if (payload.get("sender") or {}).get("type") not in (None, "contact"):
        return None
    content = payload.get("content")
    return content[:TEXT_MAX] if isinstance(content, str) and content.strip() else None


def _csat_response(payload: dict[str, Any]) -> tuple[int, str | None] | None:
    """(rating, feedback) of a submitted CSAT survey message; None if it is not one."""
    if payload.get("content_type") != "input_csat":
        return None
    values = (payload.get("content_attributes") or {}).get("submitted_values") or {}
    response = values.get("csat_survey_response") if isinstance(values, dict) else None
    if not isinstance(response, dict) or response.get("rating") is None:
        return None
    rating = response["rating"]
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        msg = f"a CSAT rating is 1 to 5, got {rating!r}"
        raise Unmappable(msg, field="content_attributes.submitted_values.csat_survey_response.rating")
    feedback = response.get("feedback_message")
    return rating, feedback[:TEXT_MAX] if isinstance(feedback, str) and feedback.strip() else None


def _message(src: WebhookSource, payload: dict[str, Any], now: datetime, base: str,
             fields: tuple[str, str, str]) -> list[Mapped]:
    """A ``message_created`` or ``message_updated`` delivery: a first reply, a customer's message, a CSAT answer."""
    contact, team, channel = fields
    ts = parse_time(payload.get("created_at")) or now
    mid = payload.get("id")
    if payload.get("event") == "message_updated":
        rating, feedback = _csat_response(payload) or (0, None)
        ev = base_event(src, f"{base}:csat:{mid}", "survey.csat", now, contact, team, channel)
        ev["score"] = rating
        if feedback is not None:
            ev["text"] = feedback
        return [Mapped(ev)]
    text = _customer_text(payload)
    if text is not None:
        ev = base_event(src, f"{base}:message:{mid}", "contact.message", ts, contact, team, channel)
        ev.update(author="customer", text=text)
        return [Mapped(ev)]
    ev = base_event(src, f"{base}:first_response", "contact.first_response", ts, contact, team, channel)
    ev["by"] = "agent" if _first_reply_sender(payload) == "user" else "bot"
    return [Mapped(ev, once=f"{contact}:first_response")]


def _wanted(payload: dict[str, Any]) -> bool:
    """Whether a message delivery is one sqm maps (a first reply, a customer's message, a CSAT answer)."""
    if payload.get("event") == "message_updated":
        return _csat_response(payload) is not None
    return _first_reply_sender(payload) is not None or _customer_text(payload) is not None


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
    if event in ("message_created", "message_updated"):
        if not _wanted(payload):
            return []
        conv = payload.get("conversation") or {}
    elif event in ("conversation_created", "conversation_status_changed"):
        conv = payload
    else:
        return []
    conv_id = conv.get("id")
    if conv_id is None:
        msg = "the conversation has no id"
        raise Unmappable(msg, field="conversation.id" if event.startswith("message_") else "id")
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
    if event != "conversation_status_changed":
        return _message(src, payload, now, base, (contact, team, channel))
    return _status_change(src, conv, now, base, (contact, team, channel))


HELPDESK = Helpdesk("chatwoot", verify=verify, map=to_events)
