"""Grouping timing, flapping, pending and acknowledged-then-resolved through the engine (injected clock)."""

from __future__ import annotations

import json
from datetime import timedelta

from alerts import service
from alerts.runner import Alerter
from sqm.clock import ManualClock
from tests.alerts.factories import T0, anomaly, json_url, push, settings


def make(redis, rec, clock, **alerts):
    base = {"receivers": [{"name": "ops", "urls": [json_url(rec)], "language": "en"}], "route": {"receiver": "ops"}}
    return Alerter(settings(**(base | alerts)), redis, clock=clock, consumer="t", workers=0)


def titles(rec):
    return [json.loads(b)["title"] for b in rec.bodies]


def test_group_wait_collects_then_group_interval_paces(redis, http_receiver):
    clock = ManualClock(T0)
    al = make(redis, http_receiver, clock, group_by=["team"], group_wait_s=30, group_interval_s=300)
    push(redis, anomaly("timeout_rate"))
    al.step()
    clock.advance(seconds=10)
    push(redis, anomaly("abandon_rate", at=T0 + timedelta(seconds=10)))
    al.step()
    assert titles(http_receiver) == []  # still within group_wait
    clock.advance(seconds=21)
    al.step()
    assert titles(http_receiver) == ["[FIRING:2] Abandon rate · Billing / Chat"]  # one digest, both alerts
    clock.advance(seconds=60)
    push(redis, anomaly("csat", value=0.7, expected=0.9, at=T0 + timedelta(seconds=91)))
    al.step()
    clock.advance(seconds=200)
    al.step()
    assert len(titles(http_receiver)) == 1  # the new one waits for group_interval
    clock.advance(seconds=50)
    al.step()
    assert titles(http_receiver)[1].startswith("[FIRING:3]")
    body = json.loads(http_receiver.bodies[1])["message"]
    assert all(k in body for k in ("Timeout rate", "Abandon rate", "CSAT"))


def test_flapping_alert_makes_one_notice_not_a_storm(redis, http_receiver):
    clock = ManualClock(T0)
    al = make(redis, http_receiver, clock, group_interval_s=30, flap_threshold=4, flap_hold_s=600)
    for i in range(12):  # fires and clears every minute for 12 minutes
        push(redis, anomaly(status="firing" if i % 2 == 0 else "resolved", at=T0 + timedelta(minutes=i)))
        al.step()
        clock.advance(seconds=30)
        al.step()
        clock.advance(seconds=30)
    got = titles(http_receiver)
    assert got == ["[FIRING] Timeout rate · Billing / Chat", "[RESOLVED] Timeout rate · Billing / Chat",
                   "[FIRING] Timeout rate · Billing / Chat", "[RESOLVED] Timeout rate · Billing / Chat",
                   "[FLAPPING] Timeout rate · Billing / Chat"]
    assert "flapping" in json.loads(http_receiver.bodies[-1])["message"]
    for _ in range(11):  # quiet for 11 minutes: it resolves for real, once
        clock.advance(seconds=60)
        al.step()
    assert titles(http_receiver)[5:] == ["[RESOLVED] Timeout rate · Billing / Chat"]
    alert = service.get_alert(redis, anomaly().fingerprint)
    assert alert.state == "resolved" and not alert.flapping


def test_pending_alert_fires_only_if_it_lasts(redis, http_receiver):
    clock = ManualClock(T0)
    al = make(redis, http_receiver, clock, pending_s=120)
    push(redis, anomaly(), anomaly(team="tech"))
    al.step()
    clock.advance(seconds=60)
    push(redis, anomaly(team="tech", status="resolved", at=T0 + timedelta(minutes=1)))
    al.step()
    assert titles(http_receiver) == []
    clock.advance(seconds=61)
    al.step()
    assert titles(http_receiver) == ["[FIRING] Timeout rate · Billing / Chat"]
    assert service.get_alert(redis, anomaly(team="tech").fingerprint).state == "resolved"


def test_acknowledged_alert_still_gets_its_resolved_notice(redis, http_receiver):
    clock = ManualClock(T0)
    al = make(redis, http_receiver, clock)
    push(redis, anomaly())
    al.step()
    service.acknowledge(redis, al.engine.settings, anomaly().fingerprint, "wang", clock=clock)
    clock.advance(minutes=3)
    push(redis, anomaly(status="resolved", at=T0 + timedelta(minutes=3)))
    al.step()
    clock.advance(seconds=61)
    al.step()
    assert titles(http_receiver) == ["[FIRING] Timeout rate · Billing / Chat",
                                     "[RESOLVED] Timeout rate · Billing / Chat"]
    alert = service.get_alert(redis, anomaly().fingerprint)
    assert [e.state for e in alert.timeline] == ["firing", "acknowledged", "resolved"]
    assert alert.timeline[1].by == "wang"
