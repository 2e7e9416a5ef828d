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
from sqm.models import TEXT_MAX

CHANNELS = {
    "Channel::WebWidget": "chat", "Channel::Api": "chat", "Channel::Email": "email", "Channel::Whatsapp": "chat",
    "Channel::FacebookPage": "chat", "Channel::Instagram": "chat", "Channel::Telegram": "chat", "Channel::Line": "chat",
    "Channel::TwilioSms": "chat", "Channel::Sms": "chat", "Channel::Voice": "phone",
}
_REPLYING_SENDERS = ("user", "agent_bot", "captain_assistant")  # an agent, or a bot answering for one

Id = int | str
Stamp = int | float | str


# The fields of Chatwoot's payloads that sqm reads; any others are ignored.
class _Named(msgspec.Struct, frozen=True):
    id: Id | None = None
    name: str | None = None


class _Meta(msgspec.Struct, frozen=True):
    team: _Named | None = None


class _Change(msgspec.Struct, frozen=True):
    previous_value: str | None = None
    current_value: str | None = None


class _Changed(msgspec.Struct, frozen=True):
    status: _Change | None = None


class _Sender(msgspec.Struct, frozen=True):
    type: str | None = None


class _SurveyResponse(msgspec.Struct, frozen=True):
    rating: int | None = None
    feedback_message: str | None = None


class _Submitted(msgspec.Struct, frozen=True):
    csat_survey_response: _SurveyResponse | None = None


class _ContentAttributes(msgspec.Struct, frozen=True):
    submitted_values: _Submitted | None = None


class Conversation(msgspec.Struct, frozen=True):
    id: Id | None = None
    account_id: Id | None = None
    inbox_id: Id | None = None
    status: str | None = None
    channel: str | None = None
    created_at: Stamp | None = None
    timestamp: Stamp | None = None
    last_activity_at: Stamp | None = None
    meta: _Meta | None = None
    changed_attributes: list[_Changed] | None = None


class Delivery(Conversation, frozen=True):
    """One webhook delivery: a conversation event (the conversation's fields at the top) or a message."""

    event: str | None = None
    message_type: str | int | None = None
    private: bool | None = None
    sender: _Sender | None = None
    content: str | None = None
    content_type: str | None = None
    content_attributes: _ContentAttributes | None = None
    account: _Named | None = None
    inbox: _Named | None = None
    conversation: Conversation | None = None


def verify(secret: str, headers: Mapping[str, str], body: bytes, now: datetime, max_skew_s: float) -> None:
    """Raise BadSignature unless the request carries Chatwoot's signature of this body.

    >>> body, ts = b'{"event":"conversation_created"}', "1772416800"
    >>> sig = "sha256=" + hmac.new(b"s3", ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    >>> from datetime import UTC
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
    at = parse_time(ts)
    if at is None:
        msg = f"X-Chatwoot-Timestamp is not a time: {ts[:40]!r}"
        raise BadSignature(msg)
    check_fresh(at, now, max_skew_s)


def _first_reply_sender(payload: Delivery) -> str | None:
    """The sender type of a public outgoing message by an agent or bot; None for any other message."""
    if payload.message_type not in ("outgoing", 1) or payload.private:
        return None
    sender = payload.sender.type if payload.sender is not None else None
    return sender if sender in _REPLYING_SENDERS else None


def _customer_text(payload: Delivery) -> str | None:
    """The content of a public incoming message by the customer; None for any other message."""
    if payload.message_type not in ("incoming", 0) or payload.private:
        return None
    if payload.sender is not None and payload.sender.type not in (None, "contact"):
        return None
    content = payload.content
    return content[:TEXT_MAX] if content is not None and content.strip() else None


def _csat_response(payload: Delivery) -> tuple[int, str | None] | None:
    """(rating, feedback) of a submitted CSAT survey message; None if it is not one."""
    if payload.content_type != "input_csat":
        return None
    attrs = payload.content_attributes
    values = attrs.submitted_values if attrs is not None else None
    response = values.csat_survey_response if values is not None else None
    if response is None or response.rating is None:
        return None
    if not 1 <= response.rating <= 5:
        msg = f"a CSAT rating is 1 to 5, got {response.rating!r}"
        raise Unmappable(msg, field="content_attributes.submitted_values.csat_survey_response.rating")
    feedback = response.feedback_message
    return response.rating, feedback[:TEXT_MAX] if feedback is not None and feedback.strip() else None


def _message(src: WebhookSource, payload: Delivery, now: datetime, base: str,
             fields: tuple[str, str, str]) -> list[Mapped]:
    """A ``message_created`` or ``message_updated`` delivery: a first reply, a customer's message, a CSAT answer."""
    contact, team, channel = fields
    ts = time_or_now(payload.created_at, now, "created_at")
    if payload.event == "message_updated":
        rating, feedback = _csat_response(payload) or (0, None)
        ev = base_event(src, f"{base}:csat:{payload.id}", "survey.csat", now, contact, team, channel)
        ev["score"] = rating
        if feedback is not None:
            ev["text"] = feedback
        return [Mapped(ev)]
    text = _customer_text(payload)
    if text is not None:
        ev = base_event(src, f"{base}:message:{payload.id}", "contact.message", ts, contact, team, channel)
        ev.update(author="customer", text=text)
        return [Mapped(ev)]
    ev = base_event(src, f"{base}:first_response", "contact.first_response", ts, contact, team, channel)
    ev["by"] = "agent" if _first_reply_sender(payload) == "user" else "bot"
    return [Mapped(ev, once=f"{contact}:first_response")]


def _wanted(payload: Delivery) -> bool:
    """Whether a message delivery is one sqm maps (a first reply, a customer's message, a CSAT answer)."""
    if payload.event == "message_updated":
        return _csat_response(payload) is not None
    return _first_reply_sender(payload) is not None or _customer_text(payload) is not None


def _status_change(src: WebhookSource, conv: Conversation, now: datetime, base: str,
                   fields: tuple[str, str, str]) -> list[Mapped]:
    """``conversation_status_changed``: resolved, or reopened (open after resolved); nothing else counts."""
    contact, team, channel = fields
    stamp = conv.timestamp or conv.last_activity_at or int(now.timestamp())
    ts = time_or_now(stamp, now, "timestamp")
    if conv.status == "resolved":
        return [Mapped(base_event(src, f"{base}:resolved:{stamp}", "contact.resolved", ts, contact, team, channel))]
    previous = [c.status.previous_value for c in conv.changed_attributes or () if c.status is not None]
    if conv.status == "open" and "resolved" in previous:
        return [Mapped(base_event(src, f"{base}:reopened:{stamp}", "contact.reopened", ts, contact, team, channel))]
    return []


def _team(src: WebhookSource, known_teams: set[str], payload: Delivery, conv: Conversation) -> str:
    return pick_team(src, known_teams, [
        ("meta.team.name", conv.meta.team.name if conv.meta is not None and conv.meta.team is not None else None),
        ("inbox.name", payload.inbox.name if payload.inbox is not None else None),
        ("inbox_id", f"inbox:{conv.inbox_id}" if conv.inbox_id is not None else None),
    ])


def to_events(src: WebhookSource, body: bytes, now: datetime, known_teams: set[str]) -> list[Mapped]:
    """One Chatwoot webhook delivery → its events (see the module docstring)."""
    payload = decode_payload(body, Delivery)
    event = payload.event or ""
    conv: Conversation = payload
    if event in ("message_created", "message_updated"):
        if not _wanted(payload):
            return []
        conv = payload.conversation or Conversation()
    elif event not in ("conversation_created", "conversation_status_changed"):
        return []
    if conv.id is None:
        msg = "the conversation has no id"
        raise Unmappable(msg, field="conversation.id" if event.startswith("message_") else "id")
    account = (payload.account.id if payload.account is not None else None) or conv.account_id or payload.account_id or "0"
    contact = f"chatwoot-{account}-{conv.id}"
    team = _team(src, known_teams, payload, conv)
    channel = pick_channel(src, CHANNELS, conv.channel)
    base = f"{src.name}:{contact}"
    if event == "conversation_created":
        ts = time_or_now(conv.created_at, now, "created_at")
        return [Mapped(base_event(src, f"{base}:created", "contact.created", ts, contact, team, channel))]
    if event != "conversation_status_changed":
        return _message(src, payload, now, base, (contact, team, channel))
    return _status_change(src, conv, now, base, (contact, team, channel))


HELPDESK = Helpdesk("chatwoot", verify=verify, map=to_events)
