"""The accepted range of ``ts`` at ingest, judged against the app's clock; printable names."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sqm import keys
from sqm.clock import ManualClock
from sqm.config import Settings
from tests.api.conftest import T0, event
from tests.api.test_api_events import stream_events
from tests.api.test_api_webhooks import zendesk_post

NOW = T0 + timedelta(hours=1)


@pytest.fixture
def ranged(make_client):
    """The default range (7 days back, 5 minutes ahead), the wall clock at T0 + 1 h."""
    return make_client(Settings(api={"wallboard_window": "1m"}, streams={"partitions": 4}), clock=ManualClock(NOW))


@pytest.mark.parametrize(("ts", "words"), [
    ("1970-01-01T00:00:00Z", "older than the accepted history"),
    ("2026-02-20T00:00:00Z", "older than the accepted history"),
    ("9999-12-31T23:59:59Z", "ahead of now"),
    ("2100-01-01T00:00:00+08:00", "ahead of now"),
    ((NOW + timedelta(minutes=6)).isoformat(), "ahead of now"),
])
def test_a_ts_outside_the_range_is_422_naming_ts_and_nothing_is_written(ranged, redis, ts, words):
    r = ranged.post("/v1/events", json=[event(), event(ts=ts)])
    assert r.status_code == 422, r.text
    [detail] = r.json()["detail"]
    assert detail["loc"] == ["body", 1, "ts"] and detail["field"] == "ts" and words in detail["msg"]
    assert stream_events(redis) == []


def test_a_ts_inside_the_range_is_accepted(ranged, redis):
    inside = [event(ts=(NOW - timedelta(days=6, hours=23)).isoformat()), event(ts=(NOW + timedelta(minutes=4)).isoformat())]
    assert ranged.post("/v1/events", json=inside).status_code == 202
    assert len(stream_events(redis)) == 2


def test_the_range_is_configurable(make_client, redis):
    c = make_client(Settings(streams={"partitions": 4, "ts_max_age_s": 3600, "ts_max_ahead_s": 30}), clock=ManualClock(NOW))
    assert c.post("/v1/events", json=event(ts=(NOW - timedelta(hours=2)).isoformat())).status_code == 422
    assert c.post("/v1/events", json=event(ts=(NOW + timedelta(seconds=60)).isoformat())).status_code == 422
    assert c.post("/v1/events", json=event(ts=(NOW - timedelta(minutes=30)).isoformat())).status_code == 202


def test_a_webhook_event_outside_the_range_is_dead_lettered_with_the_reason(make_client, redis):
    from tests.api.conftest import SOURCES

    clock = ManualClock(NOW)
    hooks = make_client(Settings(api={"webhooks": SOURCES}, streams={"partitions": 4}), clock=clock)
    payload = {"event": "ticket.created", "ticket_id": "77", "group": "Tech support", "at": "1970-01-02T00:00:00Z"}
    r = zendesk_post(hooks, payload, at=NOW)
    assert r.status_code == 202 and r.json()["dead_lettered"] == 1, r.text
    [(_, letter)] = redis.xrange(keys.DLQ)
    assert letter[b"field"] == b"ts" and b"older than the accepted history" in letter[b"reason"]
    assert stream_events(redis) == []


@pytest.mark.parametrize("name", ["bill\x00ing", "bill\x1b[31ming", "\u202egnillib", "team\u200b"])
def test_names_with_control_or_direction_characters_are_422(client, redis, name):
    r = client.post("/v1/events", json=event(team=name))
    assert r.status_code == 422
    [detail] = r.json()["detail"]
    assert detail["field"] == "team" and "printable" in detail["msg"]
    assert stream_events(redis) == []
