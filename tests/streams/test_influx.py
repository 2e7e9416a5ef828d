"""The InfluxDB sink against a real server (VictoriaMetrics speaking /api/v2/write)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
import orjson

from sqm.config import InfluxSettings
from sqm.keys import FLOW_STATS
from sqm.models import KpiSnapshot
from streams.influx import InfluxWriter


def snap(start: datetime, team: str, volume: float, frt: float | None) -> KpiSnapshot:
    return KpiSnapshot(window="1m", start=start, end=start + timedelta(minutes=1), team=team,
                       kpis={"volume": volume, "frt_avg_s": frt}, n={"volume": int(volume), "frt_avg_s": 3 if frt else 0})


def export(url: str, name: str) -> list[dict]:
    httpx.get(f"{url}/internal/force_flush", timeout=10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        r = httpx.get(f"{url}/api/v1/export", params={"match[]": name}, timeout=10)
        lines = [orjson.loads(x) for x in r.text.splitlines() if x]
        if lines:
            return lines
        time.sleep(0.2)
    return []


def test_final_snapshots_are_written_as_points_and_read_back(victoria_url, redis) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=10)
    writer = InfluxWriter(InfluxSettings(url=victoria_url, bucket="sqm", org="sqm"), redis)
    writer.write([snap(now, "billing", 12, 40.5), snap(now + timedelta(minutes=1), "billing", 7, None),
                  snap(now, "tech", 3, 9.0)])
    writer.close()
    series = export(victoria_url, '{__name__="sqm_kpi_volume"}')
    got = {(s["metric"]["team"], ts // 1000): v for s in series for v, ts in zip(s["values"], s["timestamps"], strict=True)}
    start = int(now.timestamp())
    assert got == {("billing", start): 12, ("billing", start + 60): 7, ("tech", start): 3}
    assert series[0]["metric"]["window"] == "1m" and series[0]["metric"]["channel"] == "*"
    frt = export(victoria_url, '{__name__="sqm_kpi_frt_avg_s",team="billing"}')
    assert frt[0]["values"] == [40.5]  # the null minute has no frt_avg_s field, only frt_avg_s_n
    n = export(victoria_url, '{__name__="sqm_kpi_frt_avg_s_n",team="billing"}')
    assert sorted(n[0]["values"]) == [0, 3]
    assert writer.counts["influx_points"] == 3 and int(redis.hget(FLOW_STATS, "influx_points")) == 3


def test_a_failing_server_is_retried_counted_and_does_not_block(http_receiver, redis) -> None:
    http_receiver.status = 503
    cfg = InfluxSettings(url=f"http://{http_receiver.url}", flush_interval_ms=50)
    writer = InfluxWriter(cfg, redis, max_retries=2, retry_interval_ms=50, max_retry_s=2)
    t0 = time.monotonic()
    writer.write([snap(datetime.now(UTC), "billing", 1, 1.0)])
    assert time.monotonic() - t0 < 0.5  # the flow only appends to a buffer
    deadline = time.monotonic() + 15
    while writer.counts["influx_errors"] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    writer.close()
    assert writer.counts["influx_retries"] >= 1 and writer.counts["influx_errors"] == 1
    assert writer.counts["influx_points"] == 0
    assert int(redis.hget(FLOW_STATS, "influx_errors")) == 1
