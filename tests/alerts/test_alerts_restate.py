"""A notification delayed in the outbox says, when it goes out, what is true then (alerts.restate)."""

from __future__ import annotations

import json
from datetime import timedelta

from alerts import service
from alerts.outbox import latest_notifications
from alerts.runner import Alerter
from sqm.clock import ManualClock
from tests.alerts.factories import T0, anomaly, json_url, push, settings


def _alerter(redis, http_receiver, clock, route=None):
    s = settings(receivers=[{"name": "ops", "urls": [json_url(http_receiver)], "language": "en"}],
                 route=route or {"receiver": "ops"}, retry_base_s=60, retry_max_s=300)
    return s, Alerter(s, redis, clock=clock, consumer="t", workers=0)


def _down_for(alerter, clock, http_receiver, minutes: int, during=None) -> None:
    """The receiver (down since before the first step) stays down ``minutes`` more; the alerter keeps trying
    (back-off); ``during`` runs halfway."""
    for m in range(minutes):
        if during is not None and m == minutes // 2:
            during()
        clock.advance(seconds=60)
        alerter.step()
    http_receiver.status = 200


def _messages(http_receiver) -> list[dict]:
    return [json.loads(b) for b in http_receiver.bodies]


def test_a_delayed_digest_says_acknowledged_and_its_real_age(redis, http_receiver):
    clock = ManualClock(T0)
    s, alerter = _alerter(redis, http_receiver, clock)
    http_receiver.status = 500
    push(redis, anomaly(at=T0))  # the incident began 3 min before T0
    alerter.step()
    fp = anomaly(at=T0).fingerprint
    _down_for(alerter, clock, http_receiver, 38,
              during=lambda: service.acknowledge(redis, s, fp, "wang", clock=clock))
    for _ in range(6):  # the next retry is at most retry_max_s away
        clock.advance(seconds=60)
        alerter.step()
    alerter.close()
    [msg] = _messages(http_receiver)
    assert msg["title"].startswith("[ACKED] "), msg["title"]
    assert "FIRING" not in msg["title"] and "for 0 min" not in msg["message"]
    age = int(msg["message"].split("(for ")[1].split(" min")[0])
    assert 41 <= age <= 47, msg["message"]  # 3 min before T0 + 38 min down + the last back-off
    assert "ACKED: wang" in msg["message"] and "Acknowledge:" not in msg["message"]
    [n] = latest_notifications(redis, 10)
    assert n.status == "delivered" and n.ctx["reason"] == "acknowledged"


def test_a_delayed_digest_whose_alerts_all_resolved_is_superseded_by_the_resolved_notice(redis, http_receiver):
    clock = ManualClock(T0)
    s, alerter = _alerter(redis, http_receiver, clock)
    http_receiver.status = 500
    push(redis, anomaly(at=T0))
    alerter.step()
    _down_for(alerter, clock, http_receiver, 20,
              during=lambda: push(redis, anomaly(at=T0 + timedelta(minutes=10), status="resolved")))
    for _ in range(12):
        clock.advance(seconds=60)
        alerter.step()
    alerter.close()
    msgs = _messages(http_receiver)
    assert [m["title"].split("]")[0] + "]" for m in msgs] == ["[RESOLVED]"], [m["title"] for m in msgs]
    by_status = sorted(n.status for n in latest_notifications(redis, 10))
    assert by_status == ["delivered", "superseded"]


def test_an_escalation_queued_before_the_ack_is_not_sent(redis, http_receiver):
    clock = ManualClock(T0)
    s, alerter = _alerter(redis, http_receiver, clock, route={"receiver": "ops", "escalation": "standard"})
    push(redis, anomaly(at=T0))
    alerter.step()
    fp = anomaly(at=T0).fingerprint
    clock.advance(minutes=15)
    http_receiver.status = 500
    _down_for(alerter, clock, http_receiver, 4, during=lambda: service.acknowledge(redis, s, fp, "wang", clock=clock))
    for _ in range(8):
        clock.advance(seconds=60)
        alerter.step()
    alerter.close()
    kinds = {n.kind: n.status for n in latest_notifications(redis, 10)}
    assert kinds == {"digest": "delivered", "escalation": "superseded"}, kinds
    assert not any("ESCALATION" in m["title"] for m in _messages(http_receiver))
