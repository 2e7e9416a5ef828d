"""Helpdesk webhooks (Chatwoot, Zendesk-style): signatures, mapping, once-only first replies, dead letters."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from typing import Any, get_args

import pytest
from pydantic import ValidationError

from api.helpdesks import HELPDESKS
from sqm import keys
from sqm.config import Settings, WebhookSource
from tests.api.conftest import CW_SECRET, KEYS, ZD_SECRET, auth
from tests.api.test_api_events import stream_events


def chatwoot_post(client, payload: dict[str, Any] | bytes, *, secret: str = CW_SECRET, ts: int | None = None,
                  source: str = "cw"):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    stamp = str(ts if ts is not None else int(time.time()))
    sig = "sha256=" + hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return client.post(f"/v1/webhooks/{source}", content=body, headers={
        "Content-Type": "application/json", "X-Chatwoot-Signature": sig, "X-Chatwoot-Timestamp": stamp})


def zendesk_post(client, payload: dict[str, Any] | bytes, *, secret: str = ZD_SECRET, at: datetime | None = None):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    stamp = (at or datetime.now(UTC)).isoformat(timespec="seconds").replace("+00:00", "Z")
    sig = base64.b64encode(hmac.new(secret.encode(), stamp.encode() + body, hashlib.sha256).digest()).decode()
    return client.post("/v1/webhooks/zd", content=body, headers={
        "Content-Type": "application/json", "X-Zendesk-Webhook-Signature": sig,
        "X-Zendesk-Webhook-Signature-Timestamp": stamp})


def conversation(event: str, **over: Any) -> dict[str, Any]:
    conv = {"event": event, "id": 4211, "account_id": 3, "inbox_id": 2, "status": "open", "channel": "Channel::WebWidget",
            "created_at": 1772416800, "timestamp": 1772416800, "meta": {"team": {"id": 1, "name": "Billing L1"}}}
    conv.update(over)
    return conv


def message(message_type: str = "outgoing", sender: str = "user", private: bool = False, mid: int = 901) -> dict[str, Any]:
    return {"event": "message_created", "id": mid, "message_type": message_type, "private": private,
            "created_at": "2026-03-02T02:00:25.000Z", "content": "Hello, how can I help?",
            "sender": {"id": 5, "type": sender}, "account": {"id": 3}, "inbox": {"id": 2, "name": "Website"},
            "conversation": {k: v for k, v in conversation("x").items() if k != "event"}}


def test_a_chatwoot_conversation_becomes_events(hooks, redis):
    r = chatwoot_post(hooks, conversation("conversation_created"))
    assert r.status_code == 202, r.text
    assert r.json()["accepted"] == 1
    assert chatwoot_post(hooks, message(private=True)).json()["skipped"] == 1
    first = chatwoot_post(hooks, message(mid=902))
    assert first.json()["accepted"] == 1
    again = chatwoot_post(hooks, message(mid=903))  # later replies are not first responses
    assert again.json() == {"accepted": 0, "skipped": 1, "dead_lettered": 0, "detail": ""}
    chatwoot_post(hooks, conversation("conversation_status_changed", status="resolved", timestamp=1772417400))
    chatwoot_post(hooks, conversation("conversation_status_changed", status="open", timestamp=1772417900,
                                      changed_attributes=[{"status": {"previous_value": "resolved", "current_value": "open"}}]))
    got = sorted(stream_events(redis), key=lambda e: e["ts"])
    assert [e["type"] for e in got] == ["contact.created", "contact.first_response", "contact.resolved", "contact.reopened"]
    assert {e["contact_id"] for e in got} == {"chatwoot-3-4211"}
    assert {(e["team"], e["channel"], e["region"]) for e in got} == {("billing", "chat", "east")}
    assert got[0]["ts"] == "2026-03-02T02:00:00Z" and got[1]["ts"] == "2026-03-02T02:00:25Z" and got[1]["by"] == "agent"


def test_chatwoot_team_from_the_inbox_and_bots(hooks, redis):
    r = chatwoot_post(hooks, conversation("conversation_created", id=77, meta={}, inbox_id=7, channel="Channel::Email"))
    assert r.json()["accepted"] == 1
    m = message(sender="agent_bot")
    m["conversation"].update(id=77, meta={}, inbox_id=7, channel="Channel::Email")
    m["inbox"] = {"id": 7, "name": "VIP mail"}
    assert chatwoot_post(hooks, m).json()["accepted"] == 1
    got = stream_events(redis)
    assert {(e["team"], e["channel"]) for e in got} == {("vip", "email")}
    assert [e.get("by") for e in got if e["type"] == "contact.first_response"] == ["bot"]


@pytest.mark.parametrize("case", ["wrong secret", "stale", "no headers"])
def test_a_bad_chatwoot_signature_is_refused_and_nothing_written(hooks, redis, case):
    payload = conversation("conversation_created")
    if case == "wrong secret":
        r = chatwoot_post(hooks, payload, secret="guess")
    elif case == "stale":
        r = chatwoot_post(hooks, payload, ts=int(time.time()) - 3600)
    else:
        r = hooks.post("/v1/webhooks/cw", json=payload)
    assert r.status_code == 401
    assert "signature" in r.json()["detail"]
    assert stream_events(redis) == [] and redis.xlen(keys.DLQ) == 0


def test_an_unmapped_team_is_dead_lettered_not_refused(hooks, redis):
    r = chatwoot_post(hooks, conversation("conversation_created", meta={"team": {"name": "Marketing"}}, inbox_id=99))
    assert r.status_code == 202
    assert r.json()["dead_lettered"] == 1 and "Marketing" in r.json()["detail"]
    [(_, entry)] = redis.xrange(keys.DLQ)
    assert entry[b"field"] == b"meta.team.name" and entry[b"source"] == b"webhook:cw"
    assert b"team_map" in entry[b"reason"] and json.loads(entry[b"raw"])["id"] == 4211
    assert stream_events(redis) == []


def test_zendesk_style_events(hooks, redis):
    base = {"ticket_id": "5501", "group": "Tech support", "channel": "Phone call (incoming)",
            "at": "2026-03-02T10:00:00+08:00"}
    assert zendesk_post(hooks, {**base, "event": "ticket.created"}).json()["accepted"] == 1
    assert zendesk_post(hooks, {**base, "event": "ticket.first_reply", "at": "2026-03-02T10:01:30+08:00"}).json()["accepted"] == 1
    assert zendesk_post(hooks, {**base, "event": "ticket.first_reply", "at": "2026-03-02T10:05:00+08:00"}).json()["skipped"] == 1
    assert zendesk_post(hooks, {**base, "event": "ticket.solved", "at": "2026-03-02T10:20:00+08:00"}).json()["accepted"] == 1
    assert zendesk_post(hooks, {**base, "event": "satisfaction.rated", "rating": "good"}).json()["accepted"] == 1
    bad = zendesk_post(hooks, {**base, "event": "satisfaction.rated", "rating": "meh"}).json()
    assert bad["dead_lettered"] == 1 and bad["detail"].startswith("rating:")
    got = sorted(stream_events(redis), key=lambda e: (e["ts"], e["type"]))
    assert [e["type"] for e in got] == ["contact.created", "survey.csat", "contact.first_response", "contact.resolved"]
    assert {(e["team"], e["channel"], e["contact_id"]) for e in got} == {("tech", "phone", "zendesk-5501")}
    assert [e["score"] for e in got if e["type"] == "survey.csat"] == [5]
    assert zendesk_post(hooks, {**base, "event": "ticket.created"}, secret="nope").status_code == 401


def test_an_unsigned_source_needs_an_ingest_key(hooks, redis):
    payload = conversation("conversation_created", meta={})
    assert hooks.post("/v1/webhooks/open", json=payload).status_code == 401
    r = hooks.post("/v1/webhooks/open", json=payload, headers=auth("ingest"))
    assert r.status_code == 202 and r.json()["accepted"] == 1
    assert [e["team"] for e in stream_events(redis)] == ["sales"]


def test_unknown_source_and_bad_json(hooks):
    assert hooks.post("/v1/webhooks/nope", json={}).status_code == 404
    r = hooks.post("/v1/webhooks/open", content=b"[1, 2", headers=auth("ingest"))
    assert r.status_code == 422


def test_production_refuses_an_unsigned_source():
    with pytest.raises(ValidationError, match=r"api.webhooks\[x\].secret"):
        Settings(environment="production", api={"keys": [{"key": KEYS["admin"], "role": "admin"}],
                                                "webhooks": [{"name": "x", "kind": "zendesk"}]})


def test_every_configurable_kind_has_a_helpdesk():
    kinds = get_args(WebhookSource.model_fields["kind"].annotation)
    assert sorted(HELPDESKS) == sorted(kinds)
    assert all(helpdesk.name == kind for kind, helpdesk in HELPDESKS.items())
    with pytest.raises(ValidationError, match="kind"):
        WebhookSource(name="fd", kind="freshdesk")
