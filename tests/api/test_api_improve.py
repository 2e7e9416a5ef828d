"""Experiments and improvement actions over HTTP: the supervisor role, validation, results from the hot store."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np

from api.app import create_app
from sqm import keys
from sqm.clock import ManualClock
from sqm.models import series_id
from tests.api.conftest import auth, snapshot

START = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)


def _hours(redis, team: str, fcr: float, hours: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for h in range(hours):
        n = 200
        snap = snapshot(team=team, window="1h", start=START + timedelta(hours=h), fcr_rate=rng.binomial(n, fcr) / n)
        snap["n"]["fcr_rate"] = n
        redis.zadd(keys.kpi_history(series_id("1h", team)), {json.dumps(snap): (START + timedelta(hours=h)).timestamp()})


def _experiment() -> dict:
    return {"name": "new greeting", "kpis": ["fcr_rate"], "a": {"label": "tech", "team": "tech"},
            "b": {"label": "billing", "team": "billing"}, "start": START.isoformat(), "mde": {"fcr_rate": 0.03}}


def test_experiments_need_a_supervisor_and_give_results(redis, make_client, make_settings):
    _hours(redis, "tech", 0.80, 48, seed=1)
    _hours(redis, "billing", 0.86, 48, seed=2)
    clock = ManualClock(START + timedelta(hours=48))
    from fastapi.testclient import TestClient

    client = TestClient(create_app(make_settings(keys=True), redis=redis, clock=clock))
    assert client.post("/v1/experiments", json=_experiment(), headers=auth("viewer")).status_code == 403
    made = client.post("/v1/experiments", json=_experiment(), headers=auth("supervisor"))
    assert made.status_code == 201, made.text
    exp_id = made.json()["id"]
    assert [e["id"] for e in client.get("/v1/experiments", headers=auth("viewer")).json()] == [exp_id]
    res = client.get(f"/v1/experiments/{exp_id}/results", headers=auth("viewer"))
    assert res.status_code == 200, res.text
    r = res.json()["kpis"]["fcr_rate"]
    assert r["a"]["n"] == r["b"]["n"] == 48 * 200
    assert r["decision"] == "stop_effect" and 0.03 < r["diff"] < 0.09
    assert len(r["looks"]) == 3 and "billing is" in r["verdict_en"]
    stopped = client.post(f"/v1/experiments/{exp_id}/stop", headers=auth("supervisor")).json()
    assert stopped["stopped_at"] is not None
    assert client.delete(f"/v1/experiments/{exp_id}", headers=auth("supervisor")).status_code == 204
    assert client.get(f"/v1/experiments/{exp_id}", headers=auth("viewer")).status_code == 404


def test_a_bad_experiment_is_refused_naming_the_problem(client):
    bad = _experiment() | {"b": {"team": "tech"}}
    r = client.post("/v1/experiments", json=bad)
    assert r.status_code == 422 and "two different series" in r.json()["detail"][0]["msg"]
    r = client.post("/v1/experiments", json=_experiment() | {"kpis": ["speed"]})
    assert r.status_code == 422 and "kpis" in r.json()["detail"][0]["msg"]
    naive = _experiment() | {"start": "2026-03-02T00:00:00"}
    assert client.post("/v1/experiments", json=naive).status_code == 422


def test_an_action_moves_through_its_states(redis, make_settings):
    from fastapi.testclient import TestClient

    clock = ManualClock(START)
    client = TestClient(create_app(make_settings(keys=True), redis=redis, clock=clock))
    body = {"problem": "lunch queue", "fix": "stagger breaks", "owner": "li", "kpi": "frt_avg_s",
            "horizon": "short", "teams": ["billing"]}
    assert client.post("/v1/actions", json=body, headers=auth("viewer")).status_code == 403
    made = client.post("/v1/actions", json=body, headers=auth("supervisor")).json()
    assert made["state"] == "proposed" and made["history"][0]["by"] == "supervisor-test"
    moves = f"/v1/actions/{made['id']}/moves"
    bad = client.post(moves, json={"move": "land"}, headers=auth("supervisor"))
    assert bad.status_code == 409 and "from proposed: adopt, reject" in bad.json()["detail"]
    late = client.post(moves, json={"move": "adopt", "deadline": (START + timedelta(days=30)).isoformat()},
                       headers=auth("supervisor"))
    assert late.status_code == 422 and "1 to 7 days" in late.json()["detail"]
    adopted = client.post(moves, json={"move": "adopt"}, headers=auth("supervisor")).json()
    assert adopted["state"] == "adopted" and adopted["deadline"].startswith("2026-03-09")
    clock.advance(days=8)
    kpis = client.get("/v1/actions/kpis", headers=auth("viewer")).json()
    assert kpis["overdue"] == [made["id"]] and kpis["adoption_rate"] == 1.0 and kpis["landing_rate"] == 0.0
    landed = client.post(moves, json={"move": "land", "note": "rota changed"}, headers=auth("supervisor")).json()
    assert landed["state"] == "landed" and [e["move"] for e in landed["history"]] == ["propose", "adopt", "land"]
    assert client.get("/v1/actions/kpis", headers=auth("viewer")).json()["landing_rate"] == 0.0  # landed, but after its deadline


def _day(team: str, day: datetime, volume: int, fcr_yes: int, fcr_n: int):
    from sqm.aggregates import KpiAggregate

    return KpiAggregate(grain="1d", start=day, end=day + timedelta(days=1), team=team,
                        kpis={"volume": float(volume), "fcr_rate": fcr_yes / fcr_n, "nps": 20.0, "frt_avg_s": 30.0},
                        n={"volume": volume, "fcr_rate": fcr_n, "nps": 10, "frt_avg_s": 10}, nps_detractors=2,
                        frt_hist=[(10.0, 5), (50.0, 5)])


def test_the_long_history_by_day_and_merged_by_week(redis, client):
    from zoneinfo import ZoneInfo

    from sqm.models import encode

    site = ZoneInfo("Asia/Shanghai")
    first = datetime(2026, 3, 2, tzinfo=site)  # a Monday
    for d in range(21):
        day = first + timedelta(days=d)
        redis.zadd(keys.kpi_aggregates("1d|billing|*|*"), {encode(_day("billing", day, 100 + d, 80, 100)): day.timestamp()})
    q = {"team": "billing", "since": first.isoformat(), "until": (first + timedelta(days=21)).isoformat()}
    days = client.get("/v1/kpis/history", params=q | {"grain": "day"}).json()
    assert days["window"] == "1d" and len(days["points"]) == 21 and days["points"][3]["kpis"]["volume"] == 103
    weeks = client.get("/v1/kpis/history", params=q | {"grain": "week"}).json()["points"]
    assert [w["start"][:10] for w in weeks] == ["2026-03-02", "2026-03-09", "2026-03-16"]
    assert weeks[1]["kpis"]["volume"] == sum(100 + d for d in range(7, 14))
    assert weeks[1]["kpis"]["fcr_rate"] == 0.8 and weeks[1]["n"]["fcr_rate"] == 700
    assert weeks[1]["kpis"]["frt_p90_s"] == 50.0 and weeks[1]["n"]["frt_p90_s"] == 70
    auto = client.get("/v1/kpis/history", params=q | {"grain": "auto"}).json()
    assert auto["window"] == "1d"  # 21 days: by day
