"""POST /v1/events against the real Redis: validation, all-or-nothing batches, limits."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from sqm import keys
from sqm.models import decode_events
from tests.api.conftest import event


def stream_events(redis: Any) -> list[dict[str, Any]]:
    """Every event in every partition's stream (whatever the number of partitions), in stream order."""
    out = []
    for key in sorted(redis.scan_iter(match=keys.events_stream(0).replace("{0}", "*"))):
        for _, fields in redis.xrange(key):
            out.extend(msgspec.to_builtins(decode_events(fields[b"e"])))
    return out


def test_one_event_is_written_to_its_teams_partition(client, redis):
    ev = event(team="tech", channel="phone")
    r = client.post("/v1/events", json=ev)
    assert r.status_code == 202, r.text
    assert r.json() == {"accepted": 1, "entries": 1}
    p = keys.partition_for("tech", 4)
    entries = redis.xrange(keys.events_stream(p))
    assert len(entries) == 1
    [written] = decode_events(entries[0][1][b"e"])
    assert written.event_id == ev["event_id"] and written.team == "tech" and written.channel == "phone"


def test_a_batch_is_written_whole_across_partitions(client, redis):
    batch = [event(team=t) for t in ("billing", "tech", "sales", "vip") for _ in range(150)]
    r = client.post("/v1/events", json=batch)
    assert r.status_code == 202, r.text
    assert r.json()["accepted"] == 600
    got = stream_events(redis)
    assert sorted(e["event_id"] for e in got) == sorted(e["event_id"] for e in batch)
    # each team keeps its order inside its partition
    for team in ("billing", "tech"):
        ids = [e["event_id"] for e in got if e["team"] == team]
        assert ids == [e["event_id"] for e in batch if e["team"] == team]


BAD: list[tuple[str, Any, str, str]] = [
    # (case, event or raw body, field named, words in the reason)
    ("missing event_id", event(event_id=None), "event_id", "missing required field"),
    ("missing type", event(type=None), "type", "missing required field"),
    ("missing ts", event(ts=None), "ts", "missing required field"),
    ("missing contact_id", event(contact_id=None), "contact_id", "missing required field"),
    ("missing team", event(team=None), "team", "missing required field"),
    ("missing channel", event(channel=None), "channel", "missing required field"),
    ("unknown type", event(type="contact.exploded"), "type", "Invalid enum value"),
    ("naive ts", event(ts="2026-03-02T09:00:00"), "ts", "timezone"),
    ("not a time", event(ts="yesterday"), "ts", "Invalid RFC3339"),
    ("team not a string", event(team=5), "team", "Expected `str`"),
    ("empty team", event(team=""), "team", "length"),
    ("team with a space", event(team="bill ing"), "team", "without spaces"),
    ("region too long", event(region="r" * 65), "region", "length"),
    ("unknown field", event(colour="red"), "colour", "unknown field"),
    ("field of another type", event(score=5), "score", "`score` does not apply"),
    ("csat without score", event(type="survey.csat"), "score", "`score` is required"),
    ("csat score out of range", event(type="survey.csat", score=9), "score", "between 1 and 5"),
    ("nps score not an int", event(type="survey.nps", score="high"), "score", "Expected `int"),
    ("bad severity", event(type="complaint.opened", severity="huge"), "severity", "Invalid enum value"),
    ("bad responder", event(type="contact.first_response", by="robot"), "by", "Invalid enum value"),
    ("negative handle time", event(type="contact.resolved", handle_s=-1), "handle_s", ">= 0"),
    ("first_contact not a bool", event(type="contact.resolved", first_contact="yes"), "first_contact", "Expected `bool"),
    ("not an object", 5, "", "Expected `object | array`"),
]


@pytest.mark.parametrize(("case", "body", "field", "reason"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_event_is_refused_naming_the_field(client, redis, case, body, field, reason):
    r = client.post("/v1/events", json=body)
    assert r.status_code == 422, r.text
    [detail] = r.json()["detail"]
    assert detail["field"] == field
    assert reason in detail["msg"]
    assert detail["type"] == "invalid_event"
    assert stream_events(redis) == []


def test_not_json_is_refused(client, redis):
    r = client.post("/v1/events", content=b'{"event_id": "e1", ', headers={"Content-Type": "application/json"})
    assert r.status_code == 422
    assert r.json()["detail"][0]["msg"].startswith("not valid JSON")
    assert stream_events(redis) == []


def test_one_bad_event_refuses_the_whole_batch_and_says_which(client, redis):
    batch = [event() for _ in range(5)]
    batch[3]["ts"] = "2026-03-02 09:00"
    r = client.post("/v1/events", json=batch)
    assert r.status_code == 422
    [detail] = r.json()["detail"]
    assert detail["loc"] == ["body", 3, "ts"] and detail["field"] == "ts"
    assert stream_events(redis) == []


def test_an_empty_batch_is_refused(client, redis):
    r = client.post("/v1/events", json=[])
    assert r.status_code == 422


def test_batch_size_limit(make_client, redis):
    c = make_client(max_batch=10)
    assert c.post("/v1/events", json=[event() for _ in range(10)]).status_code == 202
    r = c.post("/v1/events", json=[event() for _ in range(11)])
    assert r.status_code == 413
    assert "max_batch=10" in r.json()["detail"]
    assert len(stream_events(redis)) == 10


def test_body_size_limit(make_client, redis):
    c = make_client(max_body_bytes=4096)
    small = [event() for _ in range(5)]
    assert c.post("/v1/events", json=small).status_code == 202
    big = [event(text="x" * 1000) for _ in range(5)]
    r = c.post("/v1/events", json=big)
    assert r.status_code == 413
    assert len(stream_events(redis)) == 5


def test_body_size_limit_holds_without_content_length(make_client, redis):
    c = make_client(max_body_bytes=4096)

    def chunks():
        yield b"["
        for i in range(50):
            yield (b"," if i else b"") + msgspec.json.encode(event(text="y" * 200))
        yield b"]"

    r = c.post("/v1/events", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert stream_events(redis) == []


def test_openapi_publishes_the_event_schema(client):
    schema = client.get("/openapi.json").json()
    ev = schema["components"]["schemas"]["ServiceEvent"]
    assert set(ev["required"]) == {"event_id", "type", "ts", "contact_id", "team", "channel"}
    assert "contact.first_response" in ev["properties"]["type"]["enum"]
    body = schema["paths"]["/v1/events"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["oneOf"][0] == {"$ref": "#/components/schemas/ServiceEvent"}


def test_redis_down_is_503_and_not_acknowledged(make_settings, redis_url):
    import redis as redis_lib
    from fastapi.testclient import TestClient

    from api.app import create_app

    dead = redis_lib.Redis.from_url("redis://127.0.0.1:1", socket_connect_timeout=0.2)
    with TestClient(create_app(make_settings(), redis=dead)) as c:
        r = c.post("/v1/events", json=event())
        assert r.status_code == 503
        assert c.get("/readyz").status_code == 503


def test_ndjson_one_event_per_line(client, redis):
    lines = [event(), event(), event()]
    body = b"\n".join(msgspec.json.encode(e) for e in lines) + b"\n"
    r = client.post("/v1/events", content=body, headers={"Content-Type": "application/x-ndjson"})
    assert r.status_code == 202 and r.json()["accepted"] == 3
    lines[1]["channel"] = ""
    bad = b"\n".join(msgspec.json.encode(e) for e in lines)
    r = client.post("/v1/events", content=bad, headers={"Content-Type": "application/x-ndjson"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", 1, "channel"]
    assert len(stream_events(redis)) == 3


def test_reads_answer_503_when_redis_is_down(make_settings):
    import redis as redis_lib
    from fastapi.testclient import TestClient

    from api.app import create_app

    dead = redis_lib.Redis.from_url("redis://127.0.0.1:1", socket_connect_timeout=0.2)
    with TestClient(create_app(make_settings(), redis=dead)) as c:
        for path in ("/v1/kpis", "/v1/kpis/history", "/v1/status"):
            r = c.get(path)
            assert r.status_code == 503, path
            assert r.headers["retry-after"] == "5"
        assert c.get("/healthz").status_code == 200


BAD_UTF8 = b'{"event_id": "e-\xff", "type": "contact.created", "ts": "2026-03-02T09:15:00+08:00", ' \
           b'"contact_id": "c-1", "team": "billing", "channel": "chat"}'


@pytest.mark.parametrize("content_type", ["application/json", "application/x-ndjson"])
def test_invalid_utf8_inside_a_string_is_422_not_500(client, redis, content_type):
    good = msgspec.json.encode(event())
    body = b"[" + good + b"," + BAD_UTF8 + b"]" if content_type == "application/json" else good + b"\n" + BAD_UTF8
    r = client.post("/v1/events", content=body, headers={"Content-Type": content_type})
    assert r.status_code == 422, r.text
    assert "UTF-8" in r.json()["detail"][0]["msg"]
    assert stream_events(redis) == []
