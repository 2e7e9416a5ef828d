"""Helpdesk adapters are total: any bytes or JSON give events, Malformed or Unmappable; signed junk is 4xx, never 5xx."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.helpdesks import HELPDESKS, Unmappable
from sqm import keys
from sqm.config import WebhookSource
from sqm.ingest import ANY_TIME, decode_mapped
from sqm.models import ServiceEvent
from tests.api.test_api_webhooks import chatwoot_post, conversation, message, zendesk_post
from tests.strategies import any_bytes, encoded, json_values, mutated

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
TEAMS = {"billing", "tech", "sales", "vip"}
SOURCES = {
    "chatwoot": WebhookSource(name="cw", kind="chatwoot", team_map={"Billing L1": "billing"}),
    "zendesk": WebhookSource(name="zd", kind="zendesk", default_team="tech"),
}
ZENDESK = {"event": "ticket.created", "ticket_id": "5501", "group": "Tech support", "channel": "chat",
           "at": "2026-03-02T10:00:00+08:00", "rating": "good"}
SHAPES = {
    "chatwoot": st.one_of(mutated(conversation("conversation_created")), mutated(message()),
                          mutated(conversation("conversation_status_changed", status="resolved")),
                          st.builds(lambda m, c: {**m, "conversation": c}, mutated(message()),
                                    mutated(message()["conversation"]))),
    "zendesk": mutated(ZENDESK),
}


def _check_total(kind: str, body: bytes) -> None:
    try:
        mapped = HELPDESKS[kind].map(SOURCES[kind], body, NOW, TEAMS)
    except Unmappable as err:  # Malformed is one too: both name a field and a reason
        assert isinstance(err.field, str) and err.reason
        return
    for m in mapped:
        got = decode_mapped(m.event, source="prop", raw=body, times=ANY_TIME, now=NOW.timestamp())
        assert isinstance(got, ServiceEvent) or got["reason"]


@pytest.mark.parametrize("kind", sorted(HELPDESKS))
@given(body=any_bytes)
def test_every_adapter_is_total_over_any_bytes(kind, body):
    _check_total(kind, body)


@pytest.mark.parametrize("kind", sorted(HELPDESKS))
@given(data=st.data())
def test_every_adapter_is_total_over_any_json_and_hostile_payloads(kind, data):
    body = data.draw(encoded(json_values | SHAPES[kind]))
    _check_total(kind, body)


SIGNED_JUNK = [
    ("cw", {"event": "message_created", "message_type": "outgoing", "sender": {"type": "user"}, "conversation": "x"}),
    ("cw", {"event": "message_created", "message_type": "outgoing", "sender": "user"}),
    ("cw", {"event": "conversation_created", "id": 1, "meta": []}),
    ("cw", {"event": "conversation_created", "id": 1, "meta": {"team": "Billing L1"}}),
    ("cw", {"event": "conversation_status_changed", "id": 1, "status": "open", "changed_attributes": "status"}),
    ("cw", {"event": "conversation_status_changed", "id": 1, "status": "open", "changed_attributes": [{"status": 1}]}),
    ("cw", {"event": "conversation_created", "id": 1, "inbox_id": 7, "created_at": 10**20}),
    ("cw", {"event": "conversation_created", "id": 1, "inbox_id": 7, "created_at": "9" * 30}),
    ("cw", {"event": "conversation_created", "id": {"a": 1}}),
    ("cw", {"event": "conversation_created", "id": 1, "inbox": 5}),
    ("cw", {"event": "conversation_created", "id": 1, "account": []}),
    ("cw", [1, 2]),
    ("zd", {"event": "ticket.created", "ticket_id": "1", "group": "Tech support", "at": 99999999999999}),
    ("zd", {"event": ["ticket.created"], "ticket_id": "1"}),
    ("zd", {"event": "ticket.created", "ticket_id": {"a": 1}, "group": "Tech support"}),
    ("zd", {"event": "satisfaction.rated", "ticket_id": "1", "group": "Tech support", "rating": 5}),
]


def _post(hooks, source, body: bytes):
    if source == "cw":
        return chatwoot_post(hooks, body)
    return zendesk_post(hooks, body)


@pytest.mark.parametrize(("source", "payload"), SIGNED_JUNK, ids=[f"{s}-{i}" for i, (s, _) in enumerate(SIGNED_JUNK)])
def test_a_signed_malformed_delivery_is_4xx_and_dead_lettered(hooks, redis, source, payload):
    r = _post(hooks, source, json.dumps(payload).encode())
    assert r.status_code in (202, 422), r.text
    assert r.status_code == 422 or r.json()["dead_lettered"] == 1
    [(_, letter)] = redis.xrange(keys.DLQ)
    assert letter[b"source"] == f"webhook:{source}".encode() and letter[b"reason"]


@pytest.mark.parametrize("source", ["cw", "zd"])
def test_a_signed_delivery_that_is_not_utf8_is_422(hooks, redis, source):
    r = _post(hooks, source, b'{"event": "conversation_created", "id": 1, "channel": "\xff"}')
    assert r.status_code == 422 and "UTF-8" in r.json()["detail"]
    assert redis.xlen(keys.DLQ) == 1


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_signed_hostile_deliveries_are_never_5xx(hooks, redis, data):
    source = data.draw(st.sampled_from(["cw", "zd"]))
    body = data.draw(encoded(json_values | SHAPES["chatwoot" if source == "cw" else "zendesk"]) | any_bytes)
    r = _post(hooks, source, body)
    assert r.status_code in (202, 422), (r.status_code, r.text)
