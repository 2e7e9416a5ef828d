"""The dedup stage: decide() is a pure function of (group state, alerts, muted, now)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from alerts.grouping import GroupState, after_send, decide, newly_told
from alerts.lifecycle import Policy, acknowledge, observe
from tests.alerts.factories import T0, anomaly


def group(**kw) -> GroupState:
    return GroupState(key="g", receiver="r", route="0", labels={}, group_wait_s=0, group_interval_s=60,
                      repeat_interval_s=3600, created_at=T0, **kw)


def firing(team="billing", kpi="timeout_rate"):
    return observe(None, anomaly(kpi, team=team), T0, Policy()).alert


def resolved(alert):
    return observe(alert, anomaly(alert.anomaly.kpi, team=alert.anomaly.team, status="resolved",
                                  at=T0 + timedelta(minutes=1)), T0, Policy()).alert


A, B = firing("billing"), firing("tech")
ACKED = acknowledge(firing("sales"), "wang", T0, Policy()).alert
H = timedelta(hours=1)

TABLE = [
    # (told, last_notify offset, alerts, muted, now offset, expected reason, firing shown, resolved shown)
    ({}, None, [A], set(), 0, "first", [A], []),
    ({A.fingerprint: "firing"}, 0, [A], set(), 0, "skip", [], []),
    ({A.fingerprint: "firing"}, 0, [A, B], set(), 0, "first", [A, B], []),
    ({A.fingerprint: "firing"}, 0, [A], set(), 1, "repeat_due", [A], []),
    ({A.fingerprint: "firing"}, 0, [resolved(A)], set(), 0, "resolved", [], [A]),
    ({}, None, [resolved(A)], set(), 0, "skip", [], []),  # never told: nothing to take back
    ({}, None, [A], {A.fingerprint}, 0, "skip", [], []),  # muted
    ({A.fingerprint: "firing"}, 0, [resolved(A)], {A.fingerprint}, 0, "resolved", [], [A]),  # muted still resolves
    ({ACKED.fingerprint: "firing"}, 0, [ACKED], set(), 2, "skip", [], []),  # acknowledged: no repeats
]


@pytest.mark.parametrize(("told", "last", "alerts", "muted", "now", "reason", "shown", "gone"), TABLE)
def test_decide(told, last, alerts, muted, now, reason, shown, gone):
    g = group(notified=dict(told), last_notify_at=None if last is None else T0 + last * H)
    d = decide(g, alerts, muted, T0 + now * H)
    assert d.reason == reason
    assert [a.fingerprint for a in d.firing] == [a.fingerprint for a in shown]
    assert [a.fingerprint for a in d.resolved] == [a.fingerprint for a in gone]


def test_send_resolved_off():
    g = group(notified={A.fingerprint: "firing"}, last_notify_at=T0)
    d = decide(g, [resolved(A)], set(), T0, send_resolved=False)
    assert d.reason == "skip"
    assert after_send(g, d, [resolved(A)], T0, send_resolved=False) == [A.fingerprint]  # nobody waits for it
    assert decide(g, [A], set(), T0).reason == "first" and newly_told(g, decide(g, [A], set(), T0)) == [A]


def test_after_send_remembers_and_lets_resolved_leave():
    g = group()
    d = decide(g, [A, B], set(), T0)
    assert after_send(g, d, [A, B], T0) == []
    assert g.notified == {A.fingerprint: "firing", B.fingerprint: "firing"} and g.seq == 1
    ra = resolved(A)
    d2 = decide(g, [ra, B], set(), T0)
    assert d2.reason == "resolved"
    assert after_send(g, d2, [ra, B], T0) == [A.fingerprint]
    assert g.notified == {B.fingerprint: "firing"} and g.seq == 2


def test_newly_told_is_what_a_first_notice_tells_for_the_first_time():
    g = group()
    d = decide(g, [A, ACKED], set(), T0)
    assert newly_told(g, d) == [A]  # an alert someone already took arms no escalation
    after_send(g, d, [A, ACKED], T0)
    d2 = decide(g, [A, ACKED, B], set(), T0)
    assert d2.reason == "first" and newly_told(g, d2) == [B]
    assert newly_told(g, decide(g, [A], set(), T0)) == []  # skip: nothing told
