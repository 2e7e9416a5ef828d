"""A dead alerter is noticed: by another alerter (normal routing) or, when none is left, by the API's watchdog.

Real alerter processes killed with SIGKILL; a real local HTTP receiver; ``/readyz`` through the real app."""

from __future__ import annotations

import json
import signal
import time
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from alerts.heartbeats.watchdog import AlerterWatchdog
from api.app import create_app
from sqm import keys
from sqm.config import Settings
from tests.alerts.factories import json_url
from tests.alerts.processes import alerter_process, start_alerter, stop

BEAT = {"alerter_stale_s": 3, "every_s": 1}


def _settings(receiver, **beat) -> Settings:
    return Settings(alerts={"receivers": [{"name": "ops", "urls": [json_url(receiver)], "language": "en"}],
                            "route": {"receiver": "ops"}, "group_wait_s": 0, "group_interval_s": 60,
                            "heartbeat": {**BEAT, **beat}, "consumer": ""})


def _wait(predicate, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def _beating(redis, n: int) -> bool:
    return len(redis.hkeys(keys.HEARTBEAT_ALERTERS)) >= n


def _titles(receiver) -> list[str]:
    return [json.loads(b)["title"] for b in receiver.bodies]


def test_a_second_alerter_reports_a_killed_one_through_the_routing(redis, redis_url, http_receiver):
    s = _settings(http_receiver)
    victim = start_alerter(s, redis_url)
    try:
        with alerter_process(s, redis_url):
            assert _wait(lambda: _beating(redis, 2)), "both alerters beat"
            victim.send_signal(signal.SIGKILL)
            victim.wait(10)
            assert _wait(lambda: any("alerter" in t for t in _titles(http_receiver)), timeout=40), _titles(http_receiver)
            [title] = [t for t in _titles(http_receiver) if "alerter" in t]
            assert title.startswith("[FIRING]") and f"alerter:{_host_pid(victim.pid)}" in title
    finally:
        stop(victim)


def _host_pid(pid: int) -> str:
    import socket

    return f"{socket.gethostname()}-{pid}"


def test_the_watchdog_tells_the_receivers_when_the_only_alerter_dies(redis, redis_url, http_receiver):
    s = _settings(http_receiver)
    watchdog = AlerterWatchdog(s, redis)
    assert watchdog.check() == "none"  # no alerter ever beat: nothing to miss
    proc = start_alerter(s, redis_url)
    try:
        assert _wait(lambda: _beating(redis, 1))
        assert watchdog.check() == "ok"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        assert _wait(lambda: watchdog.check() == "down", timeout=15)
        assert watchdog.check() == "still_down" and AlerterWatchdog(s, redis).check() == "still_down"
        [msg] = [json.loads(b) for b in http_receiver.wait_for(1, timeout=5)]
        assert msg["title"].startswith("[FIRING]") and "alerters" in msg["title"]
        assert "No alerter has run" in json.dumps(msg) or "alerter_heartbeat_age_s" in msg["title"]
    finally:
        stop(proc)
    with alerter_process(s, redis_url):
        assert _wait(lambda: watchdog.check() == "recovered", timeout=20)
    titles = _titles(http_receiver)
    assert len(titles) == 2 and titles[1].startswith("[RESOLVED]"), titles


def test_a_clean_stop_is_not_an_outage(redis, redis_url, http_receiver):
    s = _settings(http_receiver)
    with alerter_process(s, redis_url):
        assert _wait(lambda: _beating(redis, 1))
    assert redis.hkeys(keys.HEARTBEAT_ALERTERS) == []
    assert AlerterWatchdog(s, redis).check() == "none"


def test_readyz_reports_every_heartbeat_with_its_age_and_the_app_runs_the_watchdog(redis, http_receiver):
    now = datetime.now(UTC)
    redis.hset(keys.HEARTBEAT_ALERTERS, "a1", str((now - timedelta(seconds=2)).timestamp()))
    redis.hset(keys.INGEST_SEEN, mapping={"source:zendesk": str((now - timedelta(minutes=4)).timestamp()),
                                          "team:billing": str((now - timedelta(minutes=4)).timestamp())})
    redis.hset(keys.FLOW_STATS, "closed_until", str((now - timedelta(minutes=3)).timestamp()))
    app = create_app(_settings(http_receiver), redis=redis)
    with TestClient(app) as client:
        assert app.state.watchdog is not None and app.state.watchdog._thread.is_alive()
        body = client.get("/readyz").json()
    assert body["status"] == "ready"
    beats = body["heartbeats"]
    assert set(beats) == {"source:zendesk", "team:billing", "flow_lag", "alerter:a1"}
    assert 235 < beats["source:zendesk"]["age_s"] < 300 and beats["source:zendesk"]["alarm"] is False
    assert 175 < beats["flow_lag"]["age_s"] < 240 and 1 < beats["alerter:a1"]["age_s"] < 60
    assert not app.state.watchdog._thread.is_alive()  # stopped with the app
