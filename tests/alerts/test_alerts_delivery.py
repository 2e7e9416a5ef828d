"""The outbox: a receiver that is down delays alerts but loses none and doubles none; fail-over; rate limits."""

from __future__ import annotations

import email
import json
from datetime import datetime

from alerts import service
from alerts.runner import Alerter
from sqm.clock import ManualClock
from tests.alerts.factories import T0, anomaly, json_url, push, settings


def wecom(rec, key="0123456789abcdef0123"):
    return f"wecombot://{key}?api=http://{rec.url}/cgi-bin/webhook/send"


def mail_text(raw: bytes) -> str:
    msg = email.message_from_bytes(raw)
    return "".join(p.get_payload(decode=True).decode() for p in msg.walk() if not p.is_multipart())


def steps(alerter, clock, n, seconds=1.0):
    for _ in range(n):
        alerter.step()
        clock.advance(seconds=seconds)


def test_receiver_down_then_back_delivers_each_once_with_attempts_recorded(redis, http_receiver):
    s = settings(receivers=[{"name": "ops", "urls": [json_url(http_receiver) + "?token=s3cr3t"], "language": "en"}],
                 route={"receiver": "ops"}, retry_base_s=1, retry_max_s=8)
    clock = ManualClock(T0)
    alerter = Alerter(s, redis, clock=clock, consumer="t", workers=0)
    http_receiver.status = 503
    push(redis, *(anomaly(team=t) for t in ("billing", "tech", "sales")))
    steps(alerter, clock, 20)
    assert http_receiver.bodies == []
    notes = service.list_notifications(redis)
    assert len(notes) == 3 and all(n["status"] == "pending" for n in notes)
    attempts = notes[0]["attempts"]
    assert len(attempts) >= 3 and {a["status"] for a in attempts} == {"failed"}
    times = [datetime.fromisoformat(a["at"]) for a in attempts]
    gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
    assert gaps == sorted(gaps) and gaps[-1] > gaps[0]  # exponential back-off, not one try per tick
    assert len(attempts) < 20
    assert all("s3cr3t" not in a["channel"] for a in attempts)
    assert all("s3cr3t" not in json.dumps(d) for d in service.delivery_attempts(redis))
    http_receiver.status = 200
    steps(alerter, clock, 20)
    bodies = http_receiver.wait_for(3, timeout=5)
    assert len(bodies) == 3
    for team in ("Billing", "Tech support", "Sales"):
        assert sum(team in json.loads(b)["message"] for b in bodies) == 1, team
    assert {n["status"] for n in service.list_notifications(redis)} == {"delivered"}
    alerter.close()


def test_critical_rejected_by_wecom_fails_over_to_email(redis, http_receiver, smtp_server):
    http_receiver.reply = b'{"errcode":93000,"errmsg":"invalid webhook url"}'
    mail = (f"mailto://user:pass@{smtp_server.host}:{smtp_server.port}"
            "?from=sqm@example.com&to=boss@example.com&mode=insecure")
    s = settings(receivers=[{"name": "wecom", "urls": [wecom(http_receiver)], "failover": "mail"},
                            {"name": "mail", "urls": [mail], "language": "en"}],
                 route={"receiver": "wecom"})
    clock = ManualClock(T0)
    alerter = Alerter(s, redis, clock=clock, consumer="t", workers=0)
    push(redis, anomaly(severity="critical"), anomaly(team="tech"))  # one critical, one warning
    steps(alerter, clock, 3)
    assert len(smtp_server.messages) == 1  # only the critical one fails over, once
    content = mail_text(smtp_server.messages[0][2])
    assert "Timeout rate" in content and "<table" in content
    notes = service.list_notifications(redis, limit=10)
    wecom_notes = [n for n in notes if n["receiver"] == "wecom"]
    assert {a["code"] for n in wecom_notes for a in n["attempts"]} == {"93000"}
    assert [n["failed_over"] for n in wecom_notes if n["severity"] == "critical"] == [True]
    assert [n["kind"] for n in notes if n["receiver"] == "mail"] == ["failover"]
    alerter.close()


def test_bot_rate_limit_shared_by_two_alerters_folds_overflow(redis, http_receiver):
    s = settings(receivers=[{"name": "bot", "urls": [wecom(http_receiver)], "language": "en"}],
                 route={"receiver": "bot"}, bot_rate_per_min=2)
    clock = ManualClock(T0)
    a1 = Alerter(s, redis, clock=clock, consumer="a1", workers=0)
    a2 = Alerter(s, redis, clock=clock, consumer="a2", workers=0)
    kpis = ["timeout_rate", "abandon_rate", "frt_avg_s", "csat", "fcr_rate"]
    for i, k in enumerate(kpis):  # five groups (group_by team, kpi), one after the other, alternating alerters
        push(redis, anomaly(k))
        (a1 if i % 2 == 0 else a2).step()
        clock.advance(seconds=1)
    assert len(http_receiver.bodies) == 2  # the bucket holds 2 tokens for both processes
    clock.advance(seconds=31)  # one token back
    a2.engine.tick()
    a1.engine.tick()
    bodies = http_receiver.wait_for(3, timeout=5)
    assert len(bodies) == 3
    folded = json.loads(bodies[2])["markdown"]["content"]
    names = ["Timeout rate", "Abandon rate", "First response (avg)", "CSAT", "First-contact resolution"]
    assert sum(n in folded for n in names) == 3  # the three that waited went out in one digest
    assert sum(n in json.loads(b)["markdown"]["content"] for b in bodies for n in names) == 5  # none lost
    notes = service.list_notifications(redis, limit=10)
    assert sorted(len(n["folded"]) for n in notes if n["status"] == "delivered" and not n["folded_into"]) == [0, 0, 2]
    a1.close()
    a2.close()


def test_repeat_interval_and_ack_stop_repeats(redis, http_receiver):
    s = settings(receivers=[{"name": "ops", "urls": [json_url(http_receiver)], "language": "en"}],
                 route={"receiver": "ops"}, group_interval_s=60, repeat_interval_s=600)
    clock = ManualClock(T0)
    alerter = Alerter(s, redis, clock=clock, consumer="t", workers=0)
    push(redis, anomaly())
    alerter.step()
    for _ in range(10):  # 10 minutes
        clock.advance(seconds=61)
        alerter.step()
    assert len(http_receiver.wait_for(2, timeout=5)) == 2  # first + one repeat after 10 min
    service.acknowledge(redis, s, anomaly().fingerprint, "wang", clock=clock)
    for _ in range(12):
        clock.advance(seconds=61)
        alerter.step()
    assert len(http_receiver.bodies) == 2
    alerter.close()


def test_vendor_rate_limit_reply_makes_every_alerter_wait(redis, http_receiver):
    http_receiver.reply = b'{"errcode":45009,"errmsg":"api freq out of limit"}'
    s = settings(receivers=[{"name": "bot", "urls": [wecom(http_receiver)], "language": "en"}],
                 route={"receiver": "bot"}, bot_rate_per_min=20)
    clock = ManualClock(T0)
    alerter = Alerter(s, redis, clock=clock, consumer="t", workers=0)
    push(redis, anomaly())
    alerter.step()
    assert len(http_receiver.requests) == 1
    (note,) = service.list_notifications(redis)
    assert (note["status"], note["attempts"][0]["status"], note["attempts"][0]["code"]) == \
        ("pending", "rate_limited", "45009")
    http_receiver.reply = b'{"errcode":0,"errmsg":"ok"}'
    clock.advance(seconds=2)
    alerter.step()  # the retry is due, but the bucket was emptied: no token for ~3 s
    assert len(http_receiver.requests) == 1
    clock.advance(seconds=2)
    alerter.step()
    assert len(http_receiver.requests) == 2
    assert service.list_notifications(redis)[0]["status"] == "delivered"
    alerter.close()
