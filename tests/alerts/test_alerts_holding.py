"""Silences, quiet hours, inhibition and escalation through the engine, with an injected clock."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from alerts import service
from alerts.runner import Alerter
from sqm.clock import ManualClock
from tests.alerts.factories import T0, anomaly, json_url, push, settings
from tests.alerts.test_alerts_delivery import mail_text


def alerter_for(redis, rec, clock, **alerts):
    base = {"receivers": [{"name": "ops", "urls": [json_url(rec)], "language": "en"}], "route": {"receiver": "ops"}}
    base.update(alerts)
    return Alerter(settings(**base), redis, clock=clock, consumer="t", workers=0)


def run(alerter, clock, seconds, step=10):
    for _ in range(int(seconds // step)):
        alerter.step()
        clock.advance(seconds=step)
    alerter.step()


def messages(rec):
    return [json.loads(b) for b in rec.bodies]


def test_silence_holds_back_then_expires_and_resolution_still_announced(redis, http_receiver):
    clock = ManualClock(T0)
    al = alerter_for(redis, http_receiver, clock)
    sil = service.create_silence(redis, ["team=billing", "kpi=~timeout_.*"], None, T0 + timedelta(minutes=30),
                                 "wang", comment="known outage", clock=clock)
    push(redis, anomaly(), anomaly(team="tech"))
    run(al, clock, 60)
    assert [m["title"] for m in messages(http_receiver)] == ["[FIRING] Timeout rate · Tech support / Chat"]
    silenced = al.engine.store.get(anomaly().fingerprint)
    assert silenced.silenced_by == [sil.id] and silenced.timeline[-1].why == f"silenced by {sil.id}"
    run(al, clock, 30 * 60, step=60)  # the silence ends: the alert is announced
    assert len(messages(http_receiver)) == 2 and "Billing" in messages(http_receiver)[1]["title"]
    assert service.list_silences(redis, clock=clock) == []
    assert [s.id for s in service.list_silences(redis, include_expired=True, clock=clock)] == [sil.id]


def test_expire_when_resolved_silence(redis, http_receiver):
    clock = ManualClock(T0)
    al = alerter_for(redis, http_receiver, clock)
    sil = service.create_silence(redis, ["team=billing"], None, T0 + timedelta(days=1), "wang",
                                 expire_when_resolved=True, clock=clock)
    push(redis, anomaly())
    run(al, clock, 60)
    push(redis, anomaly(status="resolved", at=T0 + timedelta(minutes=2)))
    run(al, clock, 60)
    assert http_receiver.bodies == []  # never announced, so no resolved notice either
    assert service.list_silences(redis, include_expired=True, clock=clock)[0].expired_at is not None
    assert service.list_silences(redis, clock=clock) == [] and sil.id


def test_quiet_hours_hold_warnings_until_morning_but_criticals_pass(redis, http_receiver):
    night = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai
    clock = ManualClock(night)
    al = alerter_for(redis, http_receiver, clock, receivers=[
        {"name": "ops", "urls": [json_url(http_receiver)], "language": "en",
         "quiet_hours": [{"start": "22:00", "end": "08:00"}]}])
    push(redis, anomaly(at=night), anomaly(team="tech", severity="critical", at=night))
    run(al, clock, 120)
    assert [m["title"] for m in messages(http_receiver)] == ["[FIRING] Timeout rate · Tech support / Chat"]
    clock.set(datetime(2026, 3, 3, 0, 0, 5, tzinfo=UTC))  # 08:00:05 in Shanghai
    run(al, clock, 60)
    titles = [m["title"] for m in messages(http_receiver)]
    assert titles.count("[FIRING] Timeout rate · Billing / Chat") == 1
    assert titles.index("[FIRING] Timeout rate · Billing / Chat") > 0  # after the critical, in the morning


def test_team_wide_alert_inhibits_its_per_channel_alerts(redis, http_receiver):
    clock = ManualClock(T0)
    al = alerter_for(redis, http_receiver, clock, group_by=["team", "kpi", "channel"])
    push(redis, anomaly(channel="*"), anomaly(channel="chat"), anomaly(channel="phone"), anomaly(team="tech"))
    run(al, clock, 60)
    titles = sorted(m["title"] for m in messages(http_receiver))
    assert titles == ["[FIRING] Timeout rate · Billing / all", "[FIRING] Timeout rate · Tech support / Chat"]
    chat = al.engine.store.get(anomaly(channel="chat").fingerprint)
    assert chat.inhibited_by == anomaly(channel="*").fingerprint
    push(redis, anomaly(channel="*", status="resolved", at=T0 + timedelta(minutes=5)))
    run(al, clock, 120)
    later = [m["title"] for m in messages(http_receiver)[2:]]
    assert sorted(later) == ["[FIRING] Timeout rate · Billing / Chat", "[FIRING] Timeout rate · Billing / Phone",
                             "[RESOLVED] Timeout rate · Billing / all"]


ROSTER = {
    "people": [{"name": "Wang", "wecom_user": "wangli"}, {"name": "Li", "wecom_user": "lilei"},
               {"name": "Zhang", "wecom_user": "zhangwei", "receiver": "zhang-mail"}],
    "shifts": [{"name": "day", "start": "08:00", "end": "20:00",
                "roles": {"supervisor": "Wang", "team_lead": "Li", "manager": "Zhang"}}],
}


def escalating(redis, rec, clock, **extra):
    return alerter_for(redis, rec, clock, roster=ROSTER, receivers=[
        {"name": "ops", "urls": [json_url(rec, "/ops")], "language": "en"},
        {"name": "zhang-mail", "urls": [json_url(rec, "/zhang")], "language": "en"}],
        route={"receiver": "ops", "escalation": "standard"}, **extra)


def test_escalation_levels_follow_the_policy_and_roster(redis, http_receiver):
    clock = ManualClock(T0)
    al = escalating(redis, http_receiver, clock)
    push(redis, anomaly())
    run(al, clock, 14 * 60, step=30)
    msgs = messages(http_receiver)
    assert len(msgs) == 1 and "@wangli" in msgs[0]["message"]  # the supervisor is @-mentioned at once
    run(al, clock, 60, step=30)  # 15 min: the team lead
    assert len(http_receiver.bodies) == 2 and "escalated to team lead: Li" in messages(http_receiver)[1]["message"]
    assert "@lilei" in messages(http_receiver)[1]["message"]
    run(al, clock, 15 * 60, step=30)  # 30 min: the manager, also on the manager's own receiver
    paths = [p for p, _, _ in http_receiver.requests]
    assert sorted(paths[2:]) == ["/ops", "/zhang"]
    alert = al.engine.store.get(anomaly().fingerprint)
    assert alert.escalation_level == 3
    assert [e.why for e in alert.timeline if e.why.startswith("escalated")] == ["escalated to team_lead Li",
                                                                               "escalated to manager Zhang"]


def test_ack_stops_escalation_and_a_lapsed_ack_rearms_it(redis, http_receiver):
    clock = ManualClock(T0)
    al = escalating(redis, http_receiver, clock, ack_timeout_s=1800)
    push(redis, anomaly())
    run(al, clock, 60)
    service.acknowledge(redis, al.engine.settings, anomaly().fingerprint, "wang", clock=clock)
    run(al, clock, 29 * 60, step=60)
    assert len(http_receiver.bodies) == 1  # acknowledged: no team lead
    run(al, clock, 2 * 60, step=30)  # the ack lapses at 31 min: escalation resumes at once
    assert len(http_receiver.bodies) == 2 and "escalated to team lead: Li" in messages(http_receiver)[1]["message"]
    alert = al.engine.store.get(anomaly().fingerprint)
    assert alert.state == "firing" and "lapsed" in alert.timeline[-2].why


def test_major_complaints_escalate_faster(redis, http_receiver):
    clock = ManualClock(T0)
    roster = {"people": [{"name": "Wang", "wecom_user": "wangli"}, {"name": "Li", "wecom_user": "lilei"}],
              "shifts": [{"name": "all", "roles": {"supervisor": "Wang", "team_lead": "Li"}}]}
    al = alerter_for(redis, http_receiver, clock, roster=roster,
                     route={"receiver": "ops", "routes": [{"matchers": ["complaint_grade=major"],
                                                           "escalation": "complaint_major"}]})
    push(redis, anomaly("complaint_timely_rate", detector="sla_major", value=0.5, expected=0.98))
    run(al, clock, 5 * 60, step=30)
    assert len(http_receiver.bodies) == 2 and "escalated to team lead: Li" in messages(http_receiver)[1]["message"]


def test_escalation_waits_for_the_end_of_quiet_hours_unless_critical(redis, http_receiver):
    evening = datetime(2026, 3, 2, 13, 50, tzinfo=UTC)  # 21:50 in Shanghai; quiet from 22:00
    clock = ManualClock(evening)
    roster = {"people": [{"name": "Wang", "wecom_user": "wangli"}, {"name": "Li", "wecom_user": "lilei"}],
              "shifts": [{"name": "all", "roles": {"supervisor": "Wang", "team_lead": "Li", "manager": "Li"}}]}
    al = alerter_for(redis, http_receiver, clock, roster=roster, receivers=[
        {"name": "ops", "urls": [json_url(http_receiver)], "language": "en",
         "quiet_hours": [{"start": "22:00", "end": "08:00"}]}],
        route={"receiver": "ops", "escalation": "standard"})
    push(redis, anomaly(at=evening), anomaly(team="tech", severity="critical", at=evening))
    run(al, clock, 20 * 60, step=60)  # 22:10: both are 20 min old
    msgs = [m["title"] for m in messages(http_receiver)]
    assert sum(t.startswith("[ESCALATION]") for t in msgs) == 1 and "Tech support" in msgs[-1]
    clock.set(datetime(2026, 3, 3, 0, 0, 30, tzinfo=UTC))  # 08:00:30
    run(al, clock, 60)
    later = [m["title"] for m in messages(http_receiver)][len(msgs):]
    assert "[ESCALATION] Timeout rate · Billing / Chat" in later


def test_escalation_mails_the_roster_person(redis, http_receiver, smtp_server):
    clock = ManualClock(T0)
    email_url = f"mailto://user:pass@{smtp_server.host}:{smtp_server.port}?from=sqm@example.com&mode=insecure"
    roster = {"people": [{"name": "Wang", "wecom_user": "wangli"},
                         {"name": "Li", "wecom_user": "lilei", "email": "li@example.com", "language": "en"}],
              "shifts": [{"name": "all", "roles": {"supervisor": "Wang", "team_lead": "Li"}}]}
    al = alerter_for(redis, http_receiver, clock, roster=roster, email_url=email_url,
                     route={"receiver": "ops", "escalation": "standard"})
    push(redis, anomaly())
    run(al, clock, 16 * 60, step=60)
    assert len(smtp_server.messages) == 1
    _, rcpt, raw = smtp_server.messages[0]
    assert rcpt == ["li@example.com"] and "Timeout rate" in mail_text(raw) and "team lead: Li" in mail_text(raw)
    notes = service.list_notifications(redis)
    assert {n["receiver"] for n in notes if n["kind"] == "escalation"} == {"ops", "@Li"}
    assert all("pass" not in n["channel"] for n in notes)


def test_held_back_alerts_do_not_escalate(redis, http_receiver):
    clock = ManualClock(T0)
    al = escalating(redis, http_receiver, clock, group_by=["team", "kpi", "channel"])
    service.create_silence(redis, ["team=sales"], None, T0 + timedelta(hours=2), "wang", clock=clock)
    push(redis, anomaly(channel="*"), anomaly(channel="chat"), anomaly(team="sales"))
    run(al, clock, 16 * 60, step=60)
    escalations = [m["title"] for m in messages(http_receiver) if m["title"].startswith("[ESCALATION]")]
    assert escalations == ["[ESCALATION] Timeout rate · Billing / all"]
