"""Experiments on the simulator (a planted FCR effect) and before/after checks with a changing hour mix."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from improve.experiments import Arm, Experiment, check, day_ends, evaluate
from improve.verify import stratified
from sim.incidents import Incident
from tests.improve.factories import drawn_hours, selector, simulated_hours, total, two_team_settings

SITE = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 3, 2, 0, 0, tzinfo=SITE)


@pytest.fixture(scope="module")
def planted():
    """Five simulated days; billing resolves 5 points more on first contact (0.80 → 0.85) than tech."""
    settings = two_team_settings()
    rates = {"billing": {"fcr_rate": 0.80}, "tech": {"fcr_rate": 0.80}}
    effect = Incident.parse("team=billing kpi=fcr_rate change=x1.0625 at=+0h for=10d")
    sim, series = simulated_hours(settings, START, 5, seed=11, incidents=[effect], rates=rates,
                                  volumes={"billing": 150, "tech": 150})
    noon = START + timedelta(days=2, hours=12)
    truth = sim.true_value("fcr_rate", noon, team="billing") - sim.true_value("fcr_rate", noon, team="tech")
    return series, truth


def _ab(kpis=("fcr_rate",), **over) -> Experiment:
    fields = {"id": "e1", "name": "FCR script", "kpis": list(kpis), "a": Arm(label="tech", team="tech"),
              "b": Arm(label="billing", team="billing"), "start": START}
    fields.update(over)
    return Experiment(**fields)


def test_a_planted_fcr_effect_is_found_with_its_sign_and_an_interval_covering_it(planted):
    series, truth = planted
    assert truth == pytest.approx(0.05, abs=0.005)
    result = evaluate(_ab(), selector(series), now=START + timedelta(days=5), tz=SITE)
    r = result["kpis"]["fcr_rate"]
    assert r["decision"] == "stop_effect" and r["diff"] > 0
    assert r["sequential"]["lo"] <= truth <= r["sequential"]["hi"]
    assert r["fixed"]["p_value"] < 1e-6 and r["fixed"]["ci"][0] > 0  # the one-look test agrees on the sign
    assert r["a"]["n"] > 10_000 and r["b"]["n"] > 10_000
    assert len(r["looks"]) == 5
    assert r["verdict_en"].startswith("First-contact resolution: billing is ") and "higher than tech (better)" in r["verdict_en"]
    assert r["verdict_en"].endswith("significant; stop.") and r["verdict_zh"].endswith("显著；可以停止。")


def test_no_effect_is_not_declared(planted):
    series, _ = planted
    # the same two teams on KPIs the planted effect does not touch
    result = evaluate(_ab(kpis=("csat", "timeout_rate")), selector(series), now=START + timedelta(days=5), tz=SITE)
    for kpi in ("csat", "timeout_rate"):
        assert result["kpis"][kpi]["decision"] in ("continue", "stop_no_effect"), result["kpis"][kpi]["verdict_en"]


def test_early_looks_ask_for_more_data(planted):
    series, _ = planted
    r = evaluate(_ab(kpis=("csat",)), selector(series), now=START + timedelta(hours=20), tz=SITE)["kpis"]["csat"]
    assert r["decision"] == "continue" and r["needed_per_arm"] > 0
    assert f"about {r['needed_per_arm']:,} more per arm needed" in r["verdict_en"]


def _mix(night_volume: int, day_volume: int):
    return lambda t: night_volume if t.astimezone(SITE).hour < 8 else day_volume


def _rate(shift: float):
    return lambda t: (0.70 if t.astimezone(SITE).hour < 8 else 0.90) + shift


def test_before_after_respects_the_hour_mix():
    before = drawn_hours(START, 14 * 24, _rate(0.0), _mix(120, 40), seed=1)  # a night campaign: nights weigh more
    after = drawn_hours(START + timedelta(days=14), 14 * 24, _rate(0.0), _mix(20, 80), seed=2)
    naive = total(after, "fcr_rate") - total(before, "fcr_rate")
    assert naive > 0.08  # the plain totals "improve" by 8+ points with no change at all
    s = stratified(before, after, "fcr_rate", SITE)
    assert s.cells == 168 and s.dropped == 0
    lo, hi = s.ci()
    assert lo <= 0.0 <= hi and abs(s.diff) < 0.01


def test_before_after_finds_a_real_change_under_a_different_mix():
    before = drawn_hours(START, 14 * 24, _rate(0.0), _mix(120, 40), seed=3)
    after = drawn_hours(START + timedelta(days=14), 14 * 24, _rate(0.03), _mix(20, 80), seed=4)
    s = stratified(before, after, "fcr_rate", SITE)
    lo, _ = s.ci()
    assert lo > 0 and abs(s.diff - 0.03) < 3 * s.var ** 0.5
    # the same design through evaluate(): arm A is the before period
    hours = {("billing", "*", "*"): before + after}
    exp = Experiment(id="ba", name="new script", kpis=["fcr_rate"], start=START + timedelta(days=14),
                     a=Arm(label="before", team="billing", since=START, until=START + timedelta(days=14)),
                     b=Arm(label="after", team="billing"), mde={"fcr_rate": 0.02})
    r = evaluate(exp, selector(hours), now=START + timedelta(days=28), tz=SITE)["kpis"]["fcr_rate"]
    assert r["decision"] == "stop_effect" and r["sequential"]["lo"] <= 0.03 <= r["sequential"]["hi"]
    assert r["diff"] == pytest.approx(s.diff)


def test_the_before_after_interval_covers_the_truth_about_95_times_in_100():
    covered = 0
    for k in range(300):
        before = drawn_hours(START, 14 * 24, _rate(0.0), _mix(120, 40), seed=1000 + k)
        after = drawn_hours(START + timedelta(days=14), 14 * 24, _rate(0.03), _mix(20, 80), seed=5000 + k)
        lo, hi = stratified(before, after, "fcr_rate", SITE).ci()
        covered += lo <= 0.03 <= hi
    assert 0.92 <= covered / 300 <= 0.98


@pytest.mark.parametrize(("over", "words"), [
    ({"kpis": ["frt_p90_s"]}, "kpis: name KPIs"),
    ({"mde": {"fcr_rate": -1}}, "mde: a positive"),
    ({"end": START}, "end: must be after start"),
    ({"b": Arm(team="tech")}, "two different series"),
    ({"a": Arm(team="tech", since=START)}, "needs the before period"),
])
def test_bad_experiments_are_refused_by_name(over, words):
    with pytest.raises(ValueError, match=words):
        check(_ab(**over))


def test_looks_are_local_midnights():
    ends = day_ends(datetime(2026, 3, 2, 10, tzinfo=SITE), datetime(2026, 3, 4, 9, tzinfo=SITE), SITE)
    assert [e.astimezone(SITE).isoformat() for e in ends] == [
        "2026-03-03T00:00:00+08:00", "2026-03-04T00:00:00+08:00", "2026-03-04T09:00:00+08:00"]
    assert ends[0].astimezone(UTC).hour == 16
