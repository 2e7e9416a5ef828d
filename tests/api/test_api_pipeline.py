"""The API's contract with the real dataflow: events posted over HTTP come back as KPIs and live updates."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import httpx
import msgspec

from sqm.config import Settings
from streams.runner import run_flow
from tests.api.conftest import T0, LiveServer, event
from tests.api.test_api_live import sse_events


def test_posted_events_become_kpis_on_the_api_and_the_live_stream(redis, redis_url, tmp_path):
    from api.app import create_app

    settings = Settings(state_dir=tmp_path, streams={"partitions": 2, "recovery": False, "idle_close_s": 0.5,
                                                     "allowed_lateness_s": 1, "read_block_ms": 50,
                                                     "ts_max_age_s": 0})  # the events are dated T0, in the past
    at = lambda s: (T0 + timedelta(seconds=s)).isoformat()  # noqa: E731
    batch = [event(event_id=f"c{i}", contact_id=f"k{i}", ts=at(i), team="billing", channel="chat") for i in range(4)]
    batch += [event(event_id=f"r{i}", type="contact.first_response", contact_id=f"k{i}", ts=at(i + rt), by="agent",
                    team="billing", channel="chat") for i, rt in ((0, 20), (1, 40))]
    batch.append(event(event_id="later", contact_id="k9", ts=at(65), team="tech"))  # event time moves past the minute
    server = LiveServer(create_app(settings, redis=redis))
    stop = threading.Event()
    flow = threading.Thread(target=run_flow, args=(settings, redis_url), kwargs={"stop": stop, "epoch_interval_s": 0.5},
                            daemon=True)
    with server, httpx.Client(timeout=30) as http:
        got: list[dict] = []
        with http.stream("GET", f"{server.url}/v1/live?window=1m&team=billing&channel=*&region=*") as live:
            events = sse_events(live.iter_lines())
            assert next(events)[0] == "hello"
            r = http.post(f"{server.url}/v1/events", json=batch)
            assert r.status_code == 202 and r.json()["accepted"] == 7
            flow.start()
            for kind, data in events:
                if kind == "kpis":
                    got += [s for s in msgspec.json.decode(data) if s["start"].startswith("2026-03-02T01:00:00")]
                    if any(s["final"] for s in got):
                        break
        final = next(s for s in got if s["final"])
        assert final["kpis"]["volume"] == 4.0 and final["kpis"]["frt_avg_s"] == 30.0
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            rows = http.get(f"{server.url}/v1/kpis", params={"window": "1m", "team": "billing", "channel": "*",
                                                              "region": "*"}).json()
            if rows and rows[0]["final"]:
                break
            time.sleep(0.2)
        [row] = rows
        assert row["kpis"]["volume"] == 4.0 and row["kpis"]["frt_avg_s"] == 30.0 and row["n"]["frt_avg_s"] == 2
        hist = http.get(f"{server.url}/v1/kpis/history", params={
            "window": "1m", "team": "billing", "since": T0.isoformat(), "until": (T0 + timedelta(hours=1)).isoformat()})
        assert [p["kpis"]["volume"] for p in hist.json()["points"]][:1] == [4.0]
        stop.set()
        flow.join(30)
        assert not flow.is_alive()
