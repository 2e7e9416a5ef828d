"""GET /v1/status and /v1/deadletters read what the other processes leave in Redis."""

from __future__ import annotations

import msgspec

from sqm import keys
from tests.api.conftest import T0, auth, event, snapshot
from tests.api.test_api_kpis import put_latest


def test_status_reports_queues_flow_counters_and_window_progress(secured, redis):
    secured.post("/v1/events", json=[event(team=t) for t in ("billing", "tech")], headers=auth("ingest"))
    redis.hset("sqm:flow:stats", mapping={"events": "1200", "duplicate": "3", "late": "1"})
    redis.xadd(keys.DLQ, {"reason": "late: 300 s behind", "field": "ts", "source": "sqm:events:{1}", "raw": b"{}"})
    redis.xadd(keys.ANOMALIES, {"a": b"{}"})
    redis.xgroup_create(keys.ANOMALIES, "sqm-alerter", id="0")
    put_latest(redis, snapshot("*"), snapshot("billing"))
    assert secured.get("/v1/status").status_code == 401
    r = secured.get("/v1/status", headers=auth("viewer"))
    assert r.status_code == 200, r.text
    body = r.json()
    used = {keys.partition_for(t, 4) for t in ("billing", "tech")}
    assert [p["entries"] for p in body["events"]] == [int(p in used) for p in range(4)]
    assert body["dlq_entries"] == 1 and body["anomaly_entries"] == 1
    assert body["flow"] == {"events": 1200.0, "duplicate": 3.0, "late": 1.0}
    assert body["alerter_groups"][0]["name"] == "sqm-alerter" and body["alerter_groups"][0]["pending"] == 0
    assert body["windows"]["1m"] == {"series": 2, "newest_start": T0.isoformat().replace("+00:00", "Z"), "final": True}
    assert body["windows"]["5m"]["newest_start"] is None
    metrics = secured.get("/metrics", headers=auth("viewer")).text
    assert 'sqm_flow_counter{name="events"} 1200.0' in metrics
    assert 'sqm_stream_entries{stream="dlq"} 1.0' in metrics


def test_deadletters_are_for_admins_and_filter_by_source(secured, redis):
    redis.xadd(keys.DLQ, {"reason": "invalid", "field": "ts", "source": "sqm:events:{0}", "raw": b'{"ts": "x"}'})
    redis.xadd(keys.DLQ, {"reason": "no sqm team", "field": "meta.team.name", "source": "webhook:cw",
                          "raw": msgspec.json.encode({"id": 1})})
    assert secured.get("/v1/deadletters", headers=auth("supervisor")).status_code == 403
    rows = secured.get("/v1/deadletters", headers=auth("admin")).json()
    assert [r["source"] for r in rows] == ["webhook:cw", "sqm:events:{0}"]  # newest first
    assert rows[1]["raw"] == '{"ts": "x"}' and rows[1]["field"] == "ts"
    only = secured.get("/v1/deadletters", params={"source": "webhook:cw"}, headers=auth("admin")).json()
    assert [r["reason"] for r in only] == ["no sqm team"]
