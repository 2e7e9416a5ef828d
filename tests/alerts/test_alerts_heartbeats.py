"""Heartbeats: a silent source or team, a lagging flow and a dead alerter become alerts (real Redis)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import msgspec
import pytest

from alerts.heartbeats.monitor import HeartbeatMonitor, heartbeat_status
from alerts.heartbeats.seasonal import SeasonalRate, hour_of_week
from alerts.runner import Alerter
from sqm import keys
from sqm.clock import ManualClock
from sqm.eventlog import append_events
from sqm.models import ServiceEvent, decode_anomaly
from tests.alerts.factories import json_url, settings

SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY_10 = datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)


def _settings(receiver=None, **beat):
    extra = {"receivers": [{"name": "ops", "urls": [json_url(receiver)], "language": "en"}],
             "route": {"receiver": "ops"}} if receiver is not None else {}
    return settings(heartbeat={"min_minutes": 30, **beat}, **extra)


def _office_hours_model() -> SeasonalRate:
    """Two weeks of a team that sends 2 arrivals a minute from 08:00 to 20:00 and none at night."""
    model = SeasonalRate(half_life_weeks=4, min_minutes=30)
    start = datetime(2026, 2, 16, 0, 0, tzinfo=SHANGHAI).timestamp()
    for m in range(14 * 24 * 60):
        t = start + 60 * m
        local = datetime.fromtimestamp(t, SHANGHAI)
        model.learn_one(hour_of_week(t, SHANGHAI), 2.0 if 8 <= local.hour < 20 else 0.0)
    return model


def _store(redis, series: str, model: SeasonalRate, last_seen: datetime, cursor: datetime) -> None:
    redis.hset(keys.HEARTBEAT_MODEL, mapping={series: msgspec.json.encode(model.to_dict()),
                                              "_cursor": str(int(cursor.timestamp() // 60))})
    redis.hset(keys.INGEST_SEEN, series, str(last_seen.timestamp()))


def _event(team: str, n: int) -> ServiceEvent:
    return ServiceEvent(event_id=f"e{n}", type="contact.created", ts=MONDAY_10, contact_id=f"c{n}", team=team,
                        channel="chat")


def _raised(redis) -> list:
    return [decode_anomaly(f[b"a"]) for _, f in redis.xrange(keys.ANOMALIES)]


def test_a_team_silent_at_its_busy_hour_alarms_and_clears_when_it_sends_again(redis, http_receiver):
    clock = ManualClock(MONDAY_10 + timedelta(minutes=30))
    _store(redis, "team:billing", _office_hours_model(), MONDAY_10, clock.now() - timedelta(minutes=1))
    s = _settings(http_receiver)
    alerter = Alerter(s, redis, clock=clock, consumer="a1", workers=0)
    [firing] = alerter.heartbeat.round()
    assert (firing.detector, firing.kpi, firing.team, firing.status) == ("heartbeat", "arrivals", "billing", "firing")
    assert firing.value == 0 and 55 < firing.expected < 65  # 30 silent minutes at 2 a minute
    alerter.step()
    [msg] = [json.loads(b) for b in http_receiver.wait_for(1, timeout=10)]
    assert msg["title"].startswith("[FIRING]") and "Billing" in msg["title"]
    status = heartbeat_status(s, redis, clock.now())["team:billing"]
    assert status["alarm"] is True and status["age_s"] == 1800 and status["p"] < 1e-20

    clock.advance(minutes=1)
    append_events(redis, [_event("billing", 1)], 4, source="zendesk", now=clock.now().timestamp())
    clock.advance(minutes=1)
    raised = alerter.heartbeat.round()
    assert [(a.team, a.status) for a in raised if a.kpi == "arrivals"] == [("billing", "resolved")]
    alerter.step()
    alerter.close()
    titles = [json.loads(b)["title"] for b in http_receiver.wait_for(2, timeout=10)]
    assert len(titles) == 2 and titles[1].startswith("[RESOLVED]")


def test_the_same_silence_at_night_is_expected_and_never_alarms(redis):
    night = datetime(2026, 3, 3, 3, 0, tzinfo=SHANGHAI)  # 7 h since the last arrival at 20:00
    _store(redis, "team:billing", _office_hours_model(), night - timedelta(hours=7), night - timedelta(minutes=1))
    monitor = HeartbeatMonitor(_settings(), redis, consumer="a1", now=lambda: night)
    assert monitor.round() == []
    status = heartbeat_status(_settings(), redis, night)["team:billing"]
    assert status["alarm"] is False and status["p"] > 0.5


def test_rates_are_learned_online_from_ingest_and_an_outage_is_not_learned(redis):
    """40 minutes of 3 arrivals a minute through the shared append path teach the hour its rate; ten silent
    minutes then alarm, and while the alarm is open the silence is not learned as normal."""
    clock = ManualClock(MONDAY_10)
    monitor = HeartbeatMonitor(_settings(), redis, consumer="a1", now=clock.now)
    n = 0
    for _ in range(40):
        for k in range(3):
            n += 1
            append_events(redis, [_event("tech", n)], 4, source="sim", now=clock.now().timestamp() + 10 * k)
        clock.advance(minutes=1)
        assert monitor.round() == []
    stored = msgspec.json.decode(redis.hget(keys.HEARTBEAT_MODEL, "team:tech"))
    model = SeasonalRate.from_dict(stored, half_life_weeks=4, min_minutes=30)
    assert model.expected_per_minute(hour_of_week(MONDAY_10.timestamp(), SHANGHAI)) == pytest.approx(3.0, rel=0.05)
    raised = []
    for _ in range(10):
        clock.advance(minutes=1)
        raised += monitor.round()
    assert {a.team or a.channel for a in raised if a.status == "firing"} >= {"tech"}
    assert {a.channel for a in raised} >= {"source:sim"}  # the source is as silent as its only team
    after = SeasonalRate.from_dict(msgspec.json.decode(redis.hget(keys.HEARTBEAT_MODEL, "team:tech")),
                                   half_life_weeks=4, min_minutes=30)
    assert after.expected_per_minute(hour_of_week(MONDAY_10.timestamp(), SHANGHAI)) > 2.0


def test_flow_lag_alarms_only_while_events_arrive(redis):
    now = MONDAY_10
    monitor = HeartbeatMonitor(_settings(flow_lag_s=600), redis, consumer="a1", now=lambda: now)
    redis.hset(keys.FLOW_STATS, "closed_until", str((now - timedelta(minutes=25)).timestamp()))
    redis.hset(keys.INGEST_SEEN, "source:api", str((now - timedelta(minutes=30)).timestamp()))
    assert [a for a in monitor.round() if a.kpi == "flow_lag_s"] == []  # nothing arrives: nothing to close
    redis.hset(keys.INGEST_SEEN, "source:api", str((now - timedelta(seconds=5)).timestamp()))
    [lag] = [a for a in monitor.round() if a.kpi == "flow_lag_s"]
    assert lag.status == "firing" and lag.severity == "critical" and lag.value == 1500
    assert heartbeat_status(_settings(flow_lag_s=600), redis, now)["flow_lag"] == {"age_s": 1500, "alarm": True,
                                                                                 "expected": 600}
    redis.hset(keys.FLOW_STATS, "closed_until", str((now - timedelta(minutes=3)).timestamp()))
    [cleared] = [a for a in monitor.round() if a.kpi == "flow_lag_s"]
    assert cleared.status == "resolved"


def test_a_stale_alerter_is_reported_by_another_and_forgotten_after_forget_after_s(redis):
    now = MONDAY_10
    redis.hset(keys.HEARTBEAT_ALERTERS, mapping={"dead": str((now - timedelta(minutes=5)).timestamp()),
                                                 "a1": str(now.timestamp())})
    monitor = HeartbeatMonitor(_settings(alerter_stale_s=60, forget_after_s=3600), redis, consumer="a1",
                               now=lambda: now)
    [down] = monitor.round()
    assert (down.kpi, down.channel, down.status, down.value) == ("alerter_heartbeat_age_s", "alerter:dead",
                                                                  "firing", 300)
    later = now + timedelta(hours=2)
    monitor.now = lambda: later
    redis.hset(keys.HEARTBEAT_ALERTERS, "a1", str(later.timestamp()))
    [gone] = monitor.round()
    assert (gone.channel, gone.status) == ("alerter:dead", "resolved")
    assert redis.hkeys(keys.HEARTBEAT_ALERTERS) == [b"a1"]


def test_one_alerter_runs_the_round_a_minute(redis):
    clock = ManualClock(datetime(2026, 3, 2, 2, 0, tzinfo=UTC))
    a, b = (HeartbeatMonitor(_settings(), redis, consumer=c, now=clock.now, monotonic=clock.monotonic)
            for c in ("a", "b"))
    a.tick()
    b.tick()
    assert redis.get(keys.HEARTBEAT_ROUND) == b"a"
    assert set(redis.hkeys(keys.HEARTBEAT_ALERTERS)) == {b"a", b"b"}
    a.leave()
    assert redis.hkeys(keys.HEARTBEAT_ALERTERS) == [b"b"]
