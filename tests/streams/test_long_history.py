"""The roll-up's hourly and site-local daily aggregates equal an independent recomputation from the raw
events, and days merge into longer periods (a week, a month) exactly."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from improve.totals import from_aggregate, merge_totals, quantile
from sim.simulator import Simulator
from sqm.config import Settings
from streams.offline import closed_minutes

SITE = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 3, 2, tzinfo=SITE)


@pytest.fixture(scope="module")
def run():
    settings = Settings(teams=[{"name": "billing"}, {"name": "tech"}], regions=["east"], streams={"partitions": 1})
    sim = Simulator(settings, seed=4, start=START, volumes={"billing": 40, "tech": 30}, volume_noise=0.0)
    events = list(sim.events(START + timedelta(days=2, hours=3)))
    aggs = [a for m in closed_minutes(settings, events) for a in m.aggregates]
    return events, aggs


def recount(events, team: str | None):
    """Per site-local day, straight from the events: one plain loop, the KPI definitions read afresh."""
    days: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    created: dict[str, datetime] = {}
    frts: dict[str, list[float]] = defaultdict(list)
    for ev in events:
        if team is not None and ev.team != team:
            continue
        day = ev.ts.astimezone(SITE).date().isoformat()
        d = days[day]
        if ev.type == "contact.created":
            d["created"] += 1
            created[ev.contact_id] = ev.ts
        elif ev.type == "contact.resolved" and ev.first_contact is not None:
            d["fcr_n"] += 1
            d["fcr_yes"] += ev.first_contact
        elif ev.type == "survey.csat":
            d["csat_n"] += 1
            d["csat_good"] += ev.score >= 4
        elif ev.type == "survey.nps":
            d["nps_n"] += 1
            d["nps_pro"] += ev.score >= 9
            d["nps_det"] += ev.score <= 6
        elif ev.type == "complaint.opened":
            d["complaints"] += 1
        elif ev.type == "contact.first_response" and ev.contact_id in created:
            frts[day].append(ev.response_s if ev.response_s is not None else (ev.ts - created[ev.contact_id]).total_seconds())
    return days, frts


@pytest.mark.parametrize("team", ["billing", None])
def test_days_equal_a_recount_of_the_events(run, team):
    events, aggs = run
    days, frts = recount(events, team)
    mine = {a.start.astimezone(SITE).date().isoformat(): a for a in aggs
            if a.grain == "1d" and a.team == (team or "*") and a.channel == "*" and a.region == "*"}
    assert sorted(mine) == ["2026-03-02", "2026-03-03"]  # the third day is not over
    for day, a in mine.items():
        assert a.start == datetime.fromisoformat(day).replace(tzinfo=SITE)  # local midnight
        d = days[day]
        assert a.kpis["volume"] == d["created"] and a.n["fcr_rate"] == d["fcr_n"]
        assert a.kpis["fcr_rate"] == pytest.approx(d["fcr_yes"] / d["fcr_n"])
        assert a.kpis["csat"] == pytest.approx(d["csat_good"] / d["csat_n"])
        assert a.kpis["nps"] == pytest.approx(100 * (d["nps_pro"] - d["nps_det"]) / d["nps_n"])
        assert a.nps_detractors == d["nps_det"]
        assert a.kpis["complaint_rate"] == pytest.approx(d["complaints"] / d["created"])
        raw = sorted(frts[day])
        assert a.n["frt_p90_s"] == len(raw)
        assert a.kpis["frt_p90_s"] == pytest.approx(raw[int(0.9 * (len(raw) - 1))], rel=0.011)


def test_hours_add_up_to_their_day_and_days_merge_into_a_longer_period(run):
    events, aggs = run
    days, frts = recount(events, None)
    overall = [a for a in aggs if a.team == "*" and a.channel == "*" and a.region == "*"]
    day1 = next(a for a in overall if a.grain == "1d")
    hours = [a for a in overall if a.grain == "1h" and day1.start <= a.start < day1.end]
    assert len(hours) == 24
    merged = merge_totals(from_aggregate(h) for h in hours)
    assert merged["volume"].value() == day1.kpis["volume"]
    assert merged["fcr_rate"].value() == pytest.approx(day1.kpis["fcr_rate"])
    both = merge_totals(from_aggregate(a) for a in overall if a.grain == "1d")
    two = {k: days["2026-03-02"][k] + days["2026-03-03"][k] for k in ("created", "fcr_n", "fcr_yes", "nps_n", "nps_det")}
    assert both["volume"].value() == two["created"]
    assert both["fcr_rate"].value() == pytest.approx(two["fcr_yes"] / two["fcr_n"])
    assert both["nps"].det == two["nps_det"] and both["nps"].value_var() is not None
    raw = sorted(frts["2026-03-02"] + frts["2026-03-03"])
    assert quantile(both["frt_avg_s"].hist, 0.9) == pytest.approx(raw[int(0.9 * (len(raw) - 1))], rel=0.011)
