"""The alerter end to end: anomalies in the stream → real Apprise → a local HTTP receiver."""

from __future__ import annotations

import io
import json
import threading
import time
from datetime import timedelta

import pytest

from alerts import service
from alerts.runner import Alerter, forget_idle_consumers, run_alerter
from sqm.clock import ManualClock
from sqm.config import Receiver
from tests.alerts.factories import T0, anomaly, json_url, push, settings


def test_anomaly_reaches_json_receiver_once_with_the_facts(redis, redis_url, http_receiver):
    s = settings(receivers=[{"name": "ops", "urls": [json_url(http_receiver)], "language": "en"}],
                 route={"receiver": "ops"})
    clock = ManualClock(T0)
    alerter = Alerter(s, redis, clock=clock, consumer="t1", workers=0)
    push(redis, anomaly(), anomaly())  # the same anomaly twice
    alerter.step()
    bodies = http_receiver.wait_for(1, timeout=5)
    assert len(bodies) == 1
    msg = json.loads(bodies[0])
    text = msg["title"] + "\n" + msg["message"]
    for fact in ("Timeout rate", "35.0%", "20.0%", "+75%", "Billing", "Chat", "rolling 60 min"):
        assert fact in text, (fact, text)
    assert len(redis.keys("sqm:alert:a:*")) == 1  # one alert, not two
    alerter.step()
    assert len(http_receiver.bodies) == 1  # nothing new: no second message
    alerter.close()


def test_resolved_anomaly_resolves_and_notifies(redis, http_receiver):
    s = settings(receivers=[{"name": "ops", "urls": [json_url(http_receiver)], "language": "en"}],
                 route={"receiver": "ops"}, group_interval_s=0)
    clock = ManualClock(T0)
    alerter = Alerter(s, redis, clock=clock, consumer="t1", workers=0)
    push(redis, anomaly())
    alerter.step()
    clock.advance(minutes=5)
    push(redis, anomaly(status="resolved", at=T0 + timedelta(minutes=5), value=0.21))
    clock.advance(seconds=1)
    alerter.step()
    clock.advance(seconds=1)
    alerter.step()
    bodies = http_receiver.wait_for(2, timeout=5)
    assert len(bodies) == 2
    assert "RESOLVED" in json.loads(bodies[1])["title"]
    alert = alerter.engine.store.get(anomaly().fingerprint)
    assert alert is not None and alert.state == "resolved"
    assert [e.state for e in alert.timeline] == ["firing", "resolved"]
    alerter.close()


def test_run_alerter_console_default_and_clean_stop(redis, redis_url):
    out = io.StringIO()
    stop = threading.Event()
    s = settings()  # default: the console receiver
    thread = threading.Thread(target=run_alerter, args=(s, redis_url), kwargs={"stop": stop, "console": out})
    thread.start()
    push(redis, anomaly())
    deadline = time.monotonic() + 10
    while "35.0%" not in out.getvalue() and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    thread.join(10)
    assert not thread.is_alive()
    lines = out.getvalue().splitlines()
    assert len(lines) == 1 and "35.0%" in lines[0] and "team=billing" in lines[0]


def test_resolved_alerts_are_forgotten_after_retention(redis):
    clock = ManualClock(T0)
    alerter = Alerter(settings(retention_s=3600), redis, clock=clock, consumer="t1", workers=0, console=io.StringIO())
    push(redis, anomaly(), anomaly(team="tech"), anomaly(status="resolved", at=T0 + timedelta(minutes=1)))
    alerter.step()
    clock.advance(hours=2)
    assert alerter.engine.purge() == 1  # the resolved one; the firing one stays
    assert alerter.engine.store.get(anomaly().fingerprint) is None
    assert alerter.engine.store.get(anomaly(team="tech").fingerprint).state == "firing"
    alerter.close()


def test_queued_work_for_a_receiver_removed_from_the_config_does_not_stop_the_alerter(redis, http_receiver):
    old = settings(receivers=[{"name": "gone", "urls": [json_url(http_receiver)]}], route={"receiver": "gone"})
    clock = ManualClock(T0)
    http_receiver.status = 503
    first = Alerter(old, redis, clock=clock, consumer="t1", workers=0)
    push(redis, anomaly())
    first.step()
    first.close()
    out = io.StringIO()
    second = Alerter(settings(), redis, clock=clock, consumer="t1", workers=0, console=out)  # console only now
    clock.advance(minutes=5)
    second.step()
    assert [n["status"] for n in service.list_notifications(redis)] == ["invalid"]
    push(redis, anomaly(team="tech"))
    second.step()
    assert "35.0%" in out.getvalue()
    second.close()


def test_consumers_of_past_runs_are_forgotten(redis):
    push(redis, anomaly())
    for name in ("old-1", "old-2", "busy"):
        alerter = Alerter(settings(), redis, consumer=name, workers=0, console=io.StringIO())
        if name != "busy":
            alerter.read(None)
        alerter.close()
    redis.xadd("sqm:anomalies", {"a": b"{}"})
    redis.xreadgroup("sqm-alerter", "busy", {"sqm:anomalies": ">"}, count=1)  # read, never acknowledged
    time.sleep(0.01)
    assert sorted(forget_idle_consumers(redis, keep="now", idle_s=0)) == ["old-1", "old-2"]
    assert [c["name"] for c in redis.xinfo_consumers("sqm:anomalies", "sqm-alerter")] == [b"busy"]


def test_receiver_urls_take_tokens_from_the_environment(monkeypatch):
    monkeypatch.setenv("SQM_TEST_WECOM_KEY", "k3y")
    r = Receiver(name="x", urls=["wecombot://${SQM_TEST_WECOM_KEY}?format=text"])
    assert r.urls[0].get_secret_value() == "wecombot://k3y?format=text"
    with pytest.raises(ValueError, match="SQM_TEST_MISSING is not set"):
        Receiver(name="x", urls=["wecombot://${SQM_TEST_MISSING}"])


def test_bad_and_trimmed_entries_are_skipped_and_acknowledged(redis):
    out = io.StringIO()
    first = Alerter(settings(), redis, consumer="t1", workers=0, console=out)
    redis.xadd("sqm:anomalies", {"a": b"not json"})
    redis.xadd("sqm:anomalies", {"other": b"x"})
    push(redis, anomaly())
    redis.xreadgroup("sqm-alerter", "t1", {"sqm:anomalies": ">"}, count=10)  # read, then "crash"
    redis.xtrim("sqm:anomalies", maxlen=1)  # the two bad entries are trimmed while pending
    first.close()
    again = Alerter(settings(), redis, consumer="t1", workers=0, console=out)
    again.step()
    assert redis.xpending("sqm:anomalies", "sqm-alerter")["pending"] == 0
    assert "35.0%" in out.getvalue()
    redis.xadd("sqm:anomalies", {"a": b"not json"})
    again.step()
    assert redis.xpending("sqm:anomalies", "sqm-alerter")["pending"] == 0
    again.close()


def test_entries_a_dead_alerter_read_are_taken_over(redis):
    out = io.StringIO()
    Alerter(settings(), redis, consumer="dead", workers=0).close()
    push(redis, anomaly())
    redis.xreadgroup("sqm-alerter", "dead", {"sqm:anomalies": ">"}, count=10)  # read, then the process died
    time.sleep(0.2)
    live = Alerter(settings(), redis, consumer="live", workers=0, console=out, claim_idle_s=0.1)
    live.step()
    assert "35.0%" in out.getvalue()
    assert redis.xpending("sqm:anomalies", "sqm-alerter")["pending"] == 0
    live.close()
