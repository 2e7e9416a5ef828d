"""KPIs read back from the Redis layout the dataflow writes, and the public config."""

from __future__ import annotations

from datetime import timedelta

import msgspec

from sqm import keys
from sqm.models import KpiSnapshot, series_id
from tests.api.conftest import T0, snapshot


def put_latest(redis, *snaps):
    for s in snaps:
        redis.hset(keys.kpi_latest(s["window"]), keys.dims_field(s["team"], s["channel"], s["region"]),
                   msgspec.json.encode(s))


def put_history(redis, *snaps):
    for s in snaps:
        member = msgspec.json.encode(s)
        msgspec.json.decode(member, type=KpiSnapshot)  # the fixtures are real snapshots
        key = keys.kpi_history(series_id(s["window"], s["team"], s["channel"], s["region"]))
        redis.zadd(key, {member: msgspec.json.decode(member, type=KpiSnapshot).start.timestamp()})


def test_latest_reads_every_dimension_overall_first(client, redis):
    put_latest(redis, snapshot("tech", frt_avg_s=95.0), snapshot("*", frt_avg_s=70.5),
               snapshot("billing", service_level=0.81), snapshot("billing", channel="chat", region="east"),
               snapshot("billing", window="5m", frt_avg_s=1.0))
    r = client.get("/v1/kpis", params={"window": "1m", "channel": "*", "region": "*"})
    assert r.status_code == 200
    rows = r.json()
    assert [x["team"] for x in rows] == ["*", "billing", "tech"]
    assert rows[0]["kpis"]["frt_avg_s"] == 70.5
    assert rows[1]["kpis"]["service_level"] == 0.81
    assert rows[2]["start"] == "2026-03-02T01:00:00Z" and rows[2]["window"] == "1m"
    every = client.get("/v1/kpis", params={"window": "1m"}).json()
    assert len(every) == 4
    one = client.get("/v1/kpis", params={"window": "1m", "team": "billing", "channel": "chat", "region": "east"}).json()
    assert [(x["team"], x["channel"], x["region"]) for x in one] == [("billing", "chat", "east")]
    assert client.get("/v1/kpis", params={"window": "5m"}).json()[0]["kpis"]["frt_avg_s"] == 1.0


def test_latest_keeps_null_kpis_null(client, redis):
    put_latest(redis, snapshot("vip", csat=None))
    [row] = client.get("/v1/kpis", params={"window": "1m", "team": "vip"}).json()
    assert row["kpis"]["csat"] is None and "csat" not in row["n"]


def test_default_window_comes_from_the_settings(make_client, redis):
    put_latest(redis, snapshot("tech", window="5m"))
    c = make_client(wallboard_window="5m")
    assert [x["team"] for x in c.get("/v1/kpis").json()] == ["tech"]


def test_an_unknown_window_is_refused(client):
    r = client.get("/v1/kpis", params={"window": "2m"})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["query", "window"]


def test_history_in_a_time_range_one_point_per_window(client, redis):
    points = [snapshot("billing", start=T0 + timedelta(minutes=i), frt_avg_s=float(i)) for i in range(10)]
    provisional = snapshot("billing", start=T0 + timedelta(minutes=9), final=False, frt_avg_s=99.0)
    put_history(redis, *points, provisional, snapshot("tech", frt_avg_s=5.0))
    r = client.get("/v1/kpis/history", params={
        "window": "1m", "team": "billing",
        "since": (T0 + timedelta(minutes=3)).isoformat(), "until": (T0 + timedelta(minutes=9)).isoformat()})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["series"] == "1m|billing|*|*"
    assert [p["kpis"]["frt_avg_s"] for p in body["points"]] == [3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]
    assert all(p["final"] for p in body["points"])
    limited = client.get("/v1/kpis/history", params={"window": "1m", "team": "billing", "limit": 2,
                                                      "since": T0.isoformat(), "until": (T0 + timedelta(hours=1)).isoformat()})
    assert [p["kpis"]["frt_avg_s"] for p in limited.json()["points"]] == [8.0, 9.0]


def test_history_refuses_a_naive_time(client):
    r = client.get("/v1/kpis/history", params={"since": "2026-03-02T01:00:00"})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["query", "since"]


def test_public_config_has_targets_and_no_secrets(make_client):
    c = make_client(keys=True)
    body = c.get("/v1/config/public").json()
    assert [t["name"] for t in body["teams"]] == ["billing", "tech", "sales", "vip"]
    chat = next(ch for ch in body["channels"] if ch["name"] == "chat")
    assert chat["answer_target_s"] == 30
    k = body["kpis"]
    assert k["frt_avg_s"]["target"] == 120 and k["frt_avg_s"]["bad"] == "up" and k["frt_avg_s"]["warn"] == 96
    assert k["service_level"]["target"] == 0.95 and k["service_level"]["bad"] == "down"
    assert 0.95 < k["service_level"]["warn"] < 1
    assert k["timeout_rate"]["target"] == 0.05 and k["frt_p90_s"]["target"] == 240
    assert k["volume"]["target"] is None and k["csat"]["zh"] == "满意度"
    text = c.get("/v1/config/public").text.lower()
    for word in ("key", "redis", "apprise", "receiver", "token", "secret", "password"):
        assert word not in text, word


def test_compare_with_the_baseline_previous_window_and_another_team(client, redis):
    hist = [snapshot("billing", start=T0 + timedelta(minutes=i), frt_avg_s=100.0, service_level=0.96) for i in range(10)]
    now = snapshot("billing", start=T0 + timedelta(minutes=10), frt_avg_s=150.0, service_level=0.96, csat=None)
    put_history(redis, *hist, now)
    put_latest(redis, now, snapshot("tech", start=T0 + timedelta(minutes=10), frt_avg_s=75.0))
    r = client.get("/v1/kpis/compare", params={"window": "1m", "team": "billing"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["reference_windows"] == 10 and body["current"]["kpis"]["frt_avg_s"] == 150.0
    frt = body["kpis"]["frt_avg_s"]
    assert frt["reference"] == 100.0 and frt["change_pct"] == 50.0 and frt["verdict"] == "worse"
    assert body["kpis"]["service_level"]["verdict"] == "same"
    assert body["kpis"]["csat"]["verdict"] == "n/a"
    prev = client.get("/v1/kpis/compare", params={"window": "1m", "team": "billing", "vs": "previous",
                                                  "kpi": ["frt_avg_s"]}).json()
    assert list(prev["kpis"]) == ["frt_avg_s"] and prev["reference_windows"] == 1
    assert prev["reference_start"] == "2026-03-02T01:09:00Z"
    vs_tech = client.get("/v1/kpis/compare", params={"window": "1m", "team": "billing", "vs": "team:tech"}).json()
    assert vs_tech["kpis"]["frt_avg_s"]["reference"] == 75.0 and vs_tech["kpis"]["frt_avg_s"]["change_pct"] == 100.0
    week = client.get("/v1/kpis/compare", params={"window": "1m", "team": "billing", "vs": "week"}).json()
    assert week["reference_windows"] == 0 and week["kpis"]["frt_avg_s"]["reference"] is None


def test_compare_refuses_unknown_kpis_and_references(client):
    r = client.get("/v1/kpis/compare", params={"team": "billing", "kpi": "happiness"})
    assert r.status_code == 422 and "happiness" in r.json()["detail"][0]["msg"]
    r = client.get("/v1/kpis/compare", params={"team": "billing", "vs": "yesterday"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "vs"]


def test_the_default_window_is_the_rolling_hour(make_client, redis):
    from sqm.config import Settings

    put_latest(redis, snapshot("tech", window="60m", frt_avg_s=77.0), snapshot("tech", window="1m", frt_avg_s=1.0))
    c = make_client(Settings())
    assert c.get("/v1/config/public").json()["default_window"] == "60m"
    assert [r["kpis"]["frt_avg_s"] for r in c.get("/v1/kpis").json()] == [77.0]
