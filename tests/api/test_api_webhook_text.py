"""Chatwoot's customer messages and CSAT answers become text events; dead letters keep no raw text."""

from __future__ import annotations

import json

from sqm import keys
from sqm.config import Settings
from tests.api.conftest import KEYS, SOURCES, TEST_STREAMS
from tests.api.test_api_events import stream_events
from tests.api.test_api_webhooks import chatwoot_post, conversation


def incoming(content: str | None = "我要投诉，等了半小时没人回复", mid: int = 1001, **over):
    """A ``message_created`` webhook of a customer's message, in Chatwoot's shape (Message#webhook_data)."""
    payload = {
        "event": "message_created", "id": mid, "content": content, "created_at": "2026-03-02T02:01:10.000Z",
        "message_type": "incoming", "content_type": "text", "content_attributes": {}, "source_id": None,
        "private": False, "sender": {"id": 42, "name": "王女士", "type": "contact"},
        "inbox": {"id": 2, "name": "Website"}, "account": {"id": 3, "name": "Acme"},
        "conversation": {k: v for k, v in conversation("x").items() if k != "event"},
    }
    payload.update(over)
    return payload


def csat_answer(rating, feedback: str | None = "还是没解决", mid: int = 1050):
    """A ``message_updated`` webhook of the CSAT survey message once the customer has answered it."""
    return incoming(content="Please rate the conversation", mid=mid, event="message_updated",
                    message_type="template", content_type="input_csat",
                    content_attributes={"submitted_values": {"csat_survey_response": {
                        "rating": rating, "feedback_message": feedback}}},
                    sender=None)


def test_a_customer_message_becomes_contact_message(hooks, redis):
    r = chatwoot_post(hooks, incoming())
    assert r.status_code == 202 and r.json()["accepted"] == 1, r.text
    assert chatwoot_post(hooks, incoming(content="   ", mid=1002)).json()["skipped"] == 1
    assert chatwoot_post(hooks, incoming(content=None, mid=1003)).json()["skipped"] == 1
    assert chatwoot_post(hooks, incoming(mid=1004, private=True)).json()["skipped"] == 1
    long = chatwoot_post(hooks, incoming(content="太慢" * 3000, mid=1005))
    assert long.json()["accepted"] == 1
    got = {e["event_id"]: e for e in stream_events(redis)}
    first = got["cw:chatwoot-3-4211:message:1001"]
    assert (first["type"], first["author"], first["text"]) == ("contact.message", "customer", "我要投诉，等了半小时没人回复")
    assert (first["team"], first["channel"], first["ts"]) == ("billing", "chat", "2026-03-02T02:01:10Z")
    assert len(got["cw:chatwoot-3-4211:message:1005"]["text"]) == 4000


def test_a_csat_answer_becomes_survey_csat_with_its_comment(hooks, redis):
    assert chatwoot_post(hooks, csat_answer(2)).json()["accepted"] == 1
    assert chatwoot_post(hooks, csat_answer(5, feedback=None, mid=1051)).json()["accepted"] == 1
    unanswered = csat_answer(None, mid=1052)
    assert chatwoot_post(hooks, unanswered).json()["skipped"] == 1
    plain_update = incoming(event="message_updated", mid=1053)  # an edited message: nothing to count
    assert chatwoot_post(hooks, plain_update).json()["skipped"] == 1
    got = sorted((e for e in stream_events(redis)), key=lambda e: e["event_id"])
    assert [(e["type"], e["score"], e.get("text")) for e in got] == [("survey.csat", 2, "还是没解决"), ("survey.csat", 5, None)]


def test_a_bad_rating_is_dead_lettered_without_the_customers_words(hooks, redis):
    words = "客服态度恶劣，我的手机号13800000000"
    r = chatwoot_post(hooks, csat_answer(9, feedback=words))
    assert r.json()["dead_lettered"] == 1
    [(_, letter)] = redis.xrange(keys.DLQ)
    assert letter[b"field"] == b"content_attributes.submitted_values.csat_survey_response.rating"
    raw = json.loads(letter[b"raw"])
    feedback = raw["content_attributes"]["submitted_values"]["csat_survey_response"]["feedback_message"]
    assert feedback == f"<{len(words)} characters removed>"
    assert "13800000000" not in letter[b"raw"].decode()
    assert raw["content"] == f"<{len('Please rate the conversation')} characters removed>"


def test_with_keep_raw_the_dead_letter_keeps_the_text(make_client, redis):
    client = make_client(Settings(api={"webhooks": SOURCES, "keys": [{"key": KEYS["ingest"], "role": "ingest"}]},
                                  text={"keep_raw": True}, streams=TEST_STREAMS))
    chatwoot_post(client, csat_answer(0, feedback="还是没解决"))
    [(_, letter)] = redis.xrange(keys.DLQ)
    raw = json.loads(letter[b"raw"])
    assert raw["content_attributes"]["submitted_values"]["csat_survey_response"]["feedback_message"] == "还是没解决"
