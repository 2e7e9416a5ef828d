"""The mute stage: one table of decisions, and digests and escalations that agree through the engine."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from alerts import service
from alerts.lifecycle import Policy, acknowledge, observe
from alerts.mute import RECHECK_S, MuteStage
from alerts.runner import Alerter
from alerts.silences import new_silence
from sqm.clock import ManualClock
from sqm.config import AlertSettings, QuietHours
from tests.alerts.factories import T0, anomaly, json_url, push, settings

SHANGHAI = ZoneInfo("Asia/Shanghai")
NIGHT = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai
MORNING = datetime(2026, 3, 3, 8, 0, tzinfo=SHANGHAI)


def firing(**kw):
    return observe(None, anomaly(**kw), T0, Policy()).alert


WARN = firing()
CRIT = firing(team="tech", severity="critical")
TEAM_WIDE = firing(channel="*")  # holds billing's per-channel alerts back (the default inhibit rule)
RESOLVED = observe(WARN, anomaly(status="resolved", at=T0 + timedelta(minutes=1)), T0, Policy()).alert
ACKED = acknowledge(WARN, "wang", T0, Policy()).alert
ACKED_TEAM_WIDE = acknowledge(TEAM_WIDE, "wang", T0, Policy()).alert
RESOLVED_TEAM_WIDE = observe(TEAM_WIDE, anomaly(channel="*", status="resolved", at=T0 + timedelta(minutes=1)), T0,
                             Policy()).alert


def silence(matcher: str, starts: timedelta, ends: timedelta, sid: str):
    s = new_silence([matcher], T0 + starts, T0 + ends, "wang", now=T0)
    s.id = sid
    return s


BILLING = silence("team=billing", -timedelta(hours=1), timedelta(days=1), "billing")
LATER = silence("team=billing", timedelta(days=2), timedelta(days=3), "later")
OVER = silence("team=billing", -timedelta(hours=2), -timedelta(hours=1), "over")
CRIT_SIL = silence("severity=critical", -timedelta(hours=1), timedelta(days=1), "crit")
H = timedelta(hours=1)

TABLE = [
    # (alert, receiver, now, silences, active alerts, reason, until, silenced_by, inhibited_by)
    (WARN, "ops", T0, [], [], "none", None, (), None),
    (WARN, "ops", NIGHT, [], [], "quiet_hours", MORNING, (), None),
    (CRIT, "ops", NIGHT, [], [], "critical", None, (), None),  # criticals pass quiet hours
    (WARN, "managers", NIGHT, [], [], "none", None, (), None),  # quiet hours are the receiver's
    (WARN, "ops", T0, [BILLING], [], "silenced", None, ("billing",), None),
    (WARN, "ops", T0, [OVER, LATER], [], "none", None, (), None),  # ended, not yet started
    (CRIT, "ops", NIGHT, [CRIT_SIL], [], "silenced", None, ("crit",), None),  # criticals do not pass silences
    (ACKED, "ops", T0, [BILLING], [], "silenced", None, ("billing",), None),
    (WARN, "ops", T0, [], [TEAM_WIDE], "inhibited", None, (), TEAM_WIDE.fingerprint),
    (WARN, "ops", T0, [], [ACKED_TEAM_WIDE], "inhibited", None, (), ACKED_TEAM_WIDE.fingerprint),
    (WARN, "ops", T0, [], [RESOLVED_TEAM_WIDE], "none", None, (), None),
    (TEAM_WIDE, "ops", T0, [], [TEAM_WIDE], "none", None, (), None),  # an alert does not hold itself back
    (WARN, "ops", NIGHT, [BILLING], [TEAM_WIDE], "inhibited", None, ("billing",), TEAM_WIDE.fingerprint),
    (WARN, "ops", NIGHT, [BILLING], [], "silenced", None, ("billing",), None),
    (RESOLVED, "ops", NIGHT, [BILLING], [TEAM_WIDE], "resolved", None, (), None),  # resolutions are told
]


@pytest.mark.parametrize(("alert", "receiver", "now", "silences", "active", "reason", "until", "sil", "inh"), TABLE)
def test_mute_decisions(alert, receiver, now, silences, active, reason, until, sil, inh):
    stage = MuteStage(silences=silences, active=active, inhibit_rules=AlertSettings().inhibit_rules, tz=SHANGHAI,
                      quiet_hours={"ops": [QuietHours(start="22:00", end="08:00")], "managers": []})
    d = stage.decide(alert, receiver, now)
    assert (d.reason, d.until, d.silenced_by, d.inhibited_by) == (reason, until, sil, inh)
    assert d.muted == (reason in ("inhibited", "silenced", "quiet_hours"))
    assert d.recheck_at(now) == (until if reason == "quiet_hours" else now + timedelta(seconds=RECHECK_S))


# --- digests and escalations agree -------------------------------------------------
ROSTER = {"people": [{"name": "Wang", "wecom_user": "wangli"}, {"name": "Li", "wecom_user": "lilei"}],
          "shifts": [{"name": "all", "roles": {"supervisor": "Wang", "team_lead": "Li", "manager": "Li"}}]}


def escalating(redis, rec, clock, **receiver):
    s = settings(roster=ROSTER, route={"receiver": "ops", "escalation": "standard"},
                 receivers=[{"name": "ops", "urls": [json_url(rec)], "language": "en", **receiver}])
    return Alerter(s, redis, clock=clock, consumer="t", workers=0)


def run(alerter, clock, seconds, step=30):
    for _ in range(int(seconds // step)):
        alerter.step()
        clock.advance(seconds=step)
    alerter.step()


def titles(rec):
    return [json.loads(b)["title"] for b in rec.bodies]


def test_a_silenced_alert_neither_digests_nor_escalates_and_its_escalation_counts_from_its_first_notice(
        redis, http_receiver):
    clock = ManualClock(T0)
    al = escalating(redis, http_receiver, clock)
    sil = service.create_silence(redis, ["team=billing"], None, T0 + timedelta(minutes=40), "wang", clock=clock)
    push(redis, anomaly(), anomaly(team="tech"))
    run(al, clock, 20 * 60)
    assert titles(http_receiver) == ["[FIRING] Timeout rate · Tech support / Chat",
                                     "[ESCALATION] Timeout rate · Tech support / Chat"]  # tech: at 0 and 15 min
    run(al, clock, 19 * 60)  # 39 min: billing has paged nobody
    assert not [t for t in titles(http_receiver) if "Billing" in t]
    service.expire_silence(redis, sil.id, clock=clock)  # ended early, at 39 min
    run(al, clock, 14 * 60)  # its first notice now; the supervisor has 15 minutes before the team lead hears
    assert [t for t in titles(http_receiver) if "Billing" in t] == ["[FIRING] Timeout rate · Billing / Chat"]
    run(al, clock, 3 * 60)
    assert [t for t in titles(http_receiver) if "Billing" in t] == ["[FIRING] Timeout rate · Billing / Chat",
                                                                   "[ESCALATION] Timeout rate · Billing / Chat"]


def test_quiet_hours_delay_digest_and_escalation_alike_and_criticals_pass_both(redis, http_receiver):
    clock = ManualClock(NIGHT)
    al = escalating(redis, http_receiver, clock, quiet_hours=[{"start": "22:00", "end": "08:00"}])
    push(redis, anomaly(at=NIGHT), anomaly(team="tech", severity="critical", at=NIGHT))
    run(al, clock, 20 * 60)
    assert titles(http_receiver) == ["[FIRING] Timeout rate · Tech support / Chat",
                                     "[ESCALATION] Timeout rate · Tech support / Chat"]
    clock.set(MORNING + timedelta(seconds=5))
    run(al, clock, 14 * 60)  # 08:14: billing's first notice came at 08:00, its team lead waits till 08:15
    billing = [t for t in titles(http_receiver) if "Billing" in t]
    assert billing == ["[FIRING] Timeout rate · Billing / Chat"]
    run(al, clock, 2 * 60)
    billing = [t for t in titles(http_receiver) if "Billing" in t]
    assert billing == ["[FIRING] Timeout rate · Billing / Chat", "[ESCALATION] Timeout rate · Billing / Chat"]
