"""The alerter's improvement round on the real store: overdue reminders become alerts, landed actions are
checked before/after, scheduled reports are mailed once per period."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np

from alerts.reports import ReportMessage, deliver_report
from alerts.runner import Alerter
from improve.actions import Action, move
from improve.service import Rounds
from improve.store import Store
from sqm import keys
from sqm.clock import ManualClock
from sqm.config import Settings
from sqm.models import series_id

T0 = datetime(2026, 3, 2, tzinfo=UTC)


def _action(**over) -> Action:
    a = Action(id="act-1", problem="lunch queue", fix="stagger breaks", owner="li", kpi="fcr_rate",
               horizon="short", created_at=T0, teams=["billing"])
    return move(a, "adopt", T0, by="wang") if over.pop("adopted", True) else a


def test_an_overdue_action_is_reminded_once_per_slot_and_becomes_an_alert(redis):
    settings = Settings(alerts={"group_wait_s": 0})
    store = Store(redis)
    store.put_action(_action())
    rounds = Rounds(settings, redis, deliver=lambda *a: None)
    assert rounds.tick(T0 + timedelta(days=6))["reminded"] == []  # due on day 7
    later = T0 + timedelta(days=8)
    assert rounds.tick(later)["reminded"] == ["act-1"]
    assert rounds.tick(later + timedelta(hours=1))["reminded"] == []  # the same day: once
    clock = ManualClock(later)
    alerter = Alerter(settings, redis, clock=clock, consumer="t", workers=0)
    alerter.step()
    (fp,) = [f.decode() for f in redis.smembers(keys.ALERT_ACTIVE)]
    assert fp.startswith("action:act-1|fcr_rate|")
    alert = json.loads(redis.get(keys.alert(fp)))
    assert "past its deadline 2026-03-09" in alert["anomaly"]["reason_en"]
    # landing resolves the reminder
    store.put_action(move(store.action("act-1"), "land", later, by="li"))
    rounds.tick(later + timedelta(hours=2))
    clock.advance(hours=2)
    alerter.step()
    assert redis.smembers(keys.ALERT_ACTIVE) == set()
    alerter.close()


def _hours(redis, start: datetime, hours: int, fcr: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for h in range(hours):
        t = start + timedelta(hours=h)
        n = 150
        snap = {"window": "1h", "start": t.isoformat(), "end": (t + timedelta(hours=1)).isoformat(), "team": "billing",
                "channel": "*", "region": "*", "kpis": {"fcr_rate": rng.binomial(n, fcr) / n}, "n": {"fcr_rate": n},
                "final": True}
        redis.zadd(keys.kpi_history(series_id("1h", "billing")), {json.dumps(snap): t.timestamp()})


def test_a_landed_action_is_verified_before_and_after(redis):
    settings = Settings(improve={"verify_days": 7})
    landed_at = T0 + timedelta(days=7)
    _hours(redis, T0, 7 * 24, 0.80, seed=1)
    _hours(redis, landed_at, 7 * 24, 0.86, seed=2)
    store = Store(redis)
    store.put_action(move(_action(), "land", landed_at, by="li"))
    rounds = Rounds(settings, redis, deliver=lambda *a: None)
    assert rounds.tick(landed_at + timedelta(days=6))["checked"] == []  # the after week is not over
    assert rounds.tick(landed_at + timedelta(days=7))["checked"] == ["act-1:verified"]
    v = store.action("act-1").verification
    assert v["moved_the_good_way"] and v["cells"] == 168 and 0.04 < v["diff"] < 0.08
    assert v["target"] == 0.85 and v["meets_target"] is True


def test_an_action_without_comparable_hours_is_not_verified(redis):
    settings = Settings(improve={"verify_days": 1})
    landed_at = T0 + timedelta(days=1)
    _hours(redis, T0, 24, 0.80, seed=1)  # a Monday before, a Tuesday after: no common weekday and hour
    _hours(redis, landed_at, 24, 0.90, seed=2)
    store = Store(redis)
    store.put_action(move(_action(), "land", landed_at, by="li"))
    assert Rounds(settings, redis, deliver=lambda *a: None).tick(landed_at + timedelta(days=1))["checked"] == [
        "act-1:unverified"]
    assert store.action("act-1").verification["reason"] == "no comparable hours before and after landing"


def test_a_scheduled_report_is_mailed_once(redis, smtp_server):
    url = f"mailto://u:p@{smtp_server.host}:{smtp_server.port}?from=sqm@example.com&to=boss@example.com&mode=insecure"
    settings = Settings(alerts={"receivers": [{"name": "mail", "urls": [url]}], "route": {"receiver": "mail"}},
                        improve={"reports": [{"period": "day", "at": "08:00", "receivers": ["mail"],
                                              "language": "en"}]})

    def deliver(receivers, rendered, pdf, name):
        return deliver_report(settings, receivers, ReportMessage(rendered.subject, rendered.html_mail,
                                                                 rendered.markdown, rendered.images, pdf, name))

    rounds = Rounds(settings, redis, deliver=deliver)
    assert rounds.tick(datetime(2026, 3, 2, 23, 59, tzinfo=UTC))["reports"] == []  # 07:59 in Shanghai
    assert rounds.tick(datetime(2026, 3, 3, 0, 0, tzinfo=UTC))["reports"] == ["day|*|08:00:2026-03-02"]
    assert rounds.tick(datetime(2026, 3, 3, 0, 1, tzinfo=UTC))["reports"] == []  # sent already
    assert len(smtp_server.messages) == 1 and b"Daily quality report 2026-03-02" in smtp_server.messages[0][2]
