"""Ingest under Redis memory pressure, against a real redis-server with maxmemory: 503 before full, nothing partial."""

from __future__ import annotations

import logging
from datetime import timedelta

from fastapi.testclient import TestClient

from api.app import create_app
from sqm.clock import ManualClock
from sqm.config import Settings
from sqm.store import memory_info
from tests.api.conftest import T0, TEST_STREAMS, event
from tests.api.test_api_events import stream_events

NOW = T0 + timedelta(days=30)  # after every fixture event (TEST_STREAMS: no lower bound)


def app_on(client, clock: ManualClock, **api) -> TestClient:
    return TestClient(create_app(Settings(api=api, streams=TEST_STREAMS), redis=client, clock=clock))


def test_ingest_refuses_with_retry_after_before_maxmemory_and_the_flow_keeps_its_headroom(bounded_redis):
    client = bounded_redis("0")
    clock = ManualClock(NOW)
    with app_on(client, clock, redis_headroom=0.2) as c:
        used = memory_info(client).used
        client.config_set("maxmemory", int(used / 0.85))  # 85 % full: past the 80 % line
        clock.advance(seconds=2)  # the cached INFO reading (taken at start-up) is stale
        r = c.post("/v1/events", json=[event(), event()])
        assert r.status_code == 503 and r.headers["retry-after"] == "5"
        assert "85% full" in r.json()["detail"]
        assert stream_events(client) == []
        client.xadd("sqm:kpi:probe", {"a": "1"})  # the flow's writes still fit: the headroom is theirs
        ready = c.get("/readyz").json()
        assert ready["status"] == "ready" and any("ingest refused" in w for w in ready["warnings"])
        client.config_set("maxmemory", used * 4)
        assert c.post("/v1/events", json=event()).status_code == 503  # the reading is reused for a second
        clock.advance(seconds=2)
        assert c.post("/v1/events", json=event()).status_code == 202


def test_a_503_batch_wrote_nothing(bounded_redis):
    """The guard's reading is up to a second old: a batch may still meet a full Redis, and is then refused whole."""
    client = bounded_redis("0")
    clock = ManualClock(NOW)
    with app_on(client, clock, max_batch=5000, max_body_bytes=5_000_000) as c:
        assert c.post("/v1/events", json=event()).status_code == 202  # the guard reads INFO: no maxmemory yet
        client.config_set("maxmemory", memory_info(client).used + 400_000)  # within the reading's second
        batch = [event(team=t, text="y" * 100) for t in ("billing", "tech", "sales", "vip") for _ in range(1000)]
        r = c.post("/v1/events", json=batch)
        got = len(stream_events(client))
        assert (r.status_code, got) in ((202, 4001), (503, 1)), (r.status_code, got)
        client.config_set("maxmemory", memory_info(client).used - 1)
        clock.advance(seconds=2)
        r = c.post("/v1/events", json=batch[:50])
        assert r.status_code == 503 and r.headers["retry-after"] == "5"
        assert len(stream_events(client)) == got


def test_an_evicting_policy_is_warned_at_start_up_and_on_readyz(bounded_redis, caplog):
    client = bounded_redis("100mb", "allkeys-lru")
    with caplog.at_level(logging.WARNING, logger="sqm.api"), app_on(client, ManualClock(NOW)) as c:
        ready = c.get("/readyz").json()
    assert any("allkeys-lru" in w and "noeviction" in w for w in ready["warnings"])
    assert any("maxmemory-policy allkeys-lru" in r.getMessage() for r in caplog.records)
    noevict = bounded_redis("100mb")
    with app_on(noevict, ManualClock(NOW)) as c:
        assert c.get("/readyz").json()["warnings"] == []
