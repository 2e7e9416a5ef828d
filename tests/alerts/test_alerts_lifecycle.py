"""The alert life cycle as pure functions: pending, firing, hysteresis, flapping, acknowledgement."""

from __future__ import annotations

from datetime import timedelta

from alerts.lifecycle import Policy, acknowledge, due, labels_of, observe
from tests.alerts.factories import T0, anomaly


def at(minutes: float):
    return T0 + timedelta(minutes=minutes)


def test_same_anomaly_twice_is_one_alert_with_two_sightings():
    c1 = observe(None, anomaly(), at(0), Policy())
    c2 = observe(c1.alert, anomaly(at=at(1)), at(1), Policy())
    assert (c1.kind, c1.notify) == ("firing", True)
    assert (c2.kind, c2.notify, c2.alert.sightings) == ("update", False, 2)
    assert c2.alert.fingerprint == c1.alert.fingerprint and c2.alert.started_at == c1.alert.started_at


def test_older_anomaly_is_stale():
    c1 = observe(None, anomaly(at=at(5)), at(5), Policy())
    assert observe(c1.alert, anomaly(at=at(1), status="resolved"), at(6), Policy()).kind == "stale"


def test_pending_then_firing_on_timer_critical_skips_pending():
    p = Policy(pending_s=120)
    c = observe(None, anomaly(), at(0), p)
    assert (c.kind, c.alert.state, c.alert.hold_until) == ("pending", "pending", at(2))
    assert due(c.alert, at(1), p).kind == "none"
    fired = due(c.alert, at(2), p)
    assert (fired.kind, fired.alert.state, fired.notify) == ("firing", "firing", True)
    crit = observe(None, anomaly(severity="critical"), at(0), p)
    assert crit.alert.state == "firing"


def test_pending_that_ends_before_firing_is_dropped_quietly():
    p = Policy(pending_s=120)
    c = observe(None, anomaly(), at(0), p)
    d = observe(c.alert, anomaly(at=at(1), status="resolved"), at(1), p)
    assert (d.kind, d.alert.state, d.notify) == ("dropped", "resolved", False)


def test_resolution_hysteresis_holds_and_a_refire_keeps_it_open_quietly():
    p = Policy(resolve_hold_s=300)
    c = observe(None, anomaly(), at(0), p)
    held = observe(c.alert, anomaly(at=at(1), status="resolved"), at(1), p)
    assert (held.kind, held.alert.state, held.notify) == ("held", "firing", False)
    back = observe(held.alert, anomaly(at=at(2)), at(2), p)
    assert (back.kind, back.alert.state, back.notify, back.alert.hold_until) == ("update", "firing", False, None)
    again = observe(back.alert, anomaly(at=at(3), status="resolved"), at(3), p)
    assert due(again.alert, at(7), p).kind == "none"
    closed = due(again.alert, at(8), p)
    assert (closed.kind, closed.alert.state, closed.notify) == ("resolved", "resolved", True)


def test_flapping_gives_one_notice_and_holds_the_alert_open():
    p = Policy(flap_window_s=1800, flap_threshold=4, flap_hold_s=600)
    alert, kinds = None, []
    for i in range(8):
        status = "firing" if i % 2 == 0 else "resolved"
        c = observe(alert, anomaly(at=at(i), status=status), at(i), p)
        alert = c.alert
        kinds.append((c.kind, c.notify))
    # fire, resolve, fire, resolve, then the 5th change flaps: one notice, later flips are quiet
    assert kinds == [("firing", True), ("resolved", True), ("firing", True), ("resolved", True),
                     ("flapping", True), ("held", False), ("update", False), ("held", False)]
    assert alert.flapping and alert.state == "firing"
    closed = due(alert, at(7 + 10), p)
    assert (closed.kind, closed.alert.flapping) == ("resolved", False)
    assert sum(1 for e in closed.alert.timeline if e.state == "flapping") == 1


def test_ack_then_lapse_refires():
    p = Policy(ack_timeout_s=600)
    c = observe(None, anomaly(), at(0), p)
    acked = acknowledge(c.alert, "wang", at(1), p, comment="on it")
    assert (acked.alert.state, acked.alert.acked_by, acked.alert.ack_expires_at) == ("acknowledged", "wang", at(11))
    assert acked.alert.timeline[-1].by == "wang" and acked.alert.timeline[-1].why == "on it"
    assert due(acked.alert, at(10), p).kind == "none"
    lapsed = due(acked.alert, at(11), p)
    assert (lapsed.kind, lapsed.alert.state) == ("ack_lapsed", "firing")


def test_refire_after_resolution_is_a_new_incident_on_the_same_alert():
    c = observe(None, anomaly(), at(0), Policy())
    r = observe(c.alert, anomaly(at=at(1), status="resolved"), at(1), Policy())
    acked_then = acknowledge(c.alert, "x", at(0.5), Policy())
    assert acked_then.alert.acked_by == "x"
    again = observe(r.alert, anomaly(at=at(30), incident_start=at(29)), at(30), Policy())
    assert (again.kind, again.alert.started_at, again.alert.resolved_at, again.alert.sightings) == \
        ("firing", at(29), None, 1)


def test_timeline_is_bounded_and_keeps_the_first_entry():
    p = Policy(timeline_max=10, flap_threshold=1000)
    alert = None
    for i in range(40):
        alert = observe(alert, anomaly(at=at(i), status="firing" if i % 2 == 0 else "resolved"), at(i), p).alert
    assert len(alert.timeline) == 10 and alert.timeline[0].at == at(0)


def test_complaint_grade_label():
    assert labels_of(anomaly("complaint_timely_rate", detector="sla_major"))["complaint_grade"] == "major"
    assert "complaint_grade" not in labels_of(anomaly("csat"))
