"""The whole product on real parts, as `sqm demo` runs it.

simulator → Redis Streams → `sqm flow` (a real bytewax process: KPIs, detectors)
→ sqm:anomalies → `sqm alerter` (a real process) → Apprise json:// → a local HTTP
receiver. Three simulated hours with one +40 % timeout incident on billing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import orjson
import pytest
import yaml

from sim.simulator import Incident, Simulator, write_stream
from sqm.config import load_settings
from sqm.keys import ANOMALIES, kpi_history, kpi_latest
from sqm.models import ALL, KPIS, decode_anomaly, decode_snapshot, series_id
from tests.streams.oracle import Oracle

SITE = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 3, 2, 8, 0, tzinfo=SITE)  # a Monday morning
HOURS = 3
INCIDENT = "team=billing kpi=timeout_rate change=+40% at=10:00 for=45m"
VOLUMES = {"billing": 2000.0, "tech": 1500.0, "sales": 1000.0, "vip": 400.0}
TEAMS = tuple(VOLUMES)
WARM = timedelta(hours=6)


@pytest.fixture
def config_file(tmp_path, http_receiver):
    path = tmp_path / "sqm.yaml"
    path.write_text(yaml.safe_dump({
        "state_dir": str(tmp_path / "state"),
        "streams": {"allowed_lateness_s": 10, "idle_close_s": 2},
        # the skeleton's swing detector on the timeout rate; without days of history a rolling baseline
        # cannot tell the morning's rising response times from an incident (the seasonal baseline can)
        "detectors": {"swing": {"timeout_rate": 0.20}},
        "alerts": {
            "receivers": [{"name": "ops", "urls": [f"json://{http_receiver.url}/alerts"], "language": "en"}],
            "route": {"receiver": "ops"},
            "group_wait_s": 1,
            "group_interval_s": 5,
        },
    }))
    return path


def _start(command: str, redis_url: str, config_file) -> subprocess.Popen[bytes]:
    env = {**os.environ, "REDIS_URL": redis_url, "SQM_CONFIG": str(config_file), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "sqm_cli", command], env=env)


def _wait(condition, timeout: float, what: str, procs=()):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p in procs:
            assert p.poll() is None, f"{p.args} exited with {p.returncode} while waiting for {what}"
        if condition():
            return
        time.sleep(0.5)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.mark.slow
def test_three_hours_with_one_incident_end_to_end(redis, redis_url, http_receiver, config_file):
    settings = load_settings(config_file)
    incident = Incident.parse(INCIDENT, day=START.date())
    # sqm watches the night before too (from 02:00), so that at 08:00 it knows every contact still open
    # (e-mails wait for hours); the three hours under test, KPIs and alerts, are 08:00-11:00.
    sim = Simulator(settings, seed=11, start=START - WARM, volumes=VOLUMES, incidents=[incident])
    events = list(sim.events(START + timedelta(hours=HOURS)))
    write_stream(redis, events, settings.streams.partitions)
    incident_start = sim.incidents[0].start

    procs = [_start("flow", redis_url, config_file), _start("alerter", redis_url, config_file)]
    try:
        last_minute = (START + timedelta(hours=HOURS) - timedelta(minutes=1)).astimezone(SITE)

        def flow_done() -> bool:
            raw = redis.hget(kpi_latest("1m"), f"{ALL}|{ALL}|{ALL}")
            return raw is not None and decode_snapshot(raw).start >= last_minute

        _wait(flow_done, 180, "the flow to close the last minute", procs)

        # (a) the KPIs in Redis equal an independent recomputation from the generated events
        oracle = Oracle(events, settings)
        checked = 0
        for team in (*TEAMS, ALL):
            snaps = [decode_snapshot(raw) for raw in redis.zrange(kpi_history(series_id("1m", team)), 0, -1)]
            snaps = [snap for snap in snaps if snap.start >= START]
            assert len(snaps) >= HOURS * 60 - 1, f"{team}: only {len(snaps)} minutes in history"
            for snap in snaps:
                assert set(snap.kpis) == set(KPIS)
                problems = oracle.check(snap)
                assert not problems, f"{snap.series} {snap.start}: {problems}"
                checked += 1
        assert checked >= (len(TEAMS) + 1) * (HOURS * 60 - 1)

        # (b) exactly the incident team's alert arrives, with the KPI, the value and the baseline
        bodies = http_receiver.wait_for(1, timeout=60)
        assert bodies, "no alert reached the receiver"
        time.sleep(8)  # anything else would have arrived by now (group_wait 1 s, group_interval 5 s)
        anomalies = [decode_anomaly(fields[b"a"]) for _, fields in redis.xrange(ANOMALIES)]
        firing = [a for a in anomalies if a.status == "firing"]
        assert firing, "the detectors raised nothing"
        def blames_billing(a) -> bool:  # billing's own series, or an aggregate whose top contributor is billing
            return a.team == "billing" or (a.team == ALL and bool(a.contributors) and a.contributors[0].value == "billing")

        assert all(a.kpi == "timeout_rate" and a.direction == "up" and blames_billing(a) for a in firing), [
            (a.team, a.channel, a.region, a.kpi, a.contributors[:1]) for a in firing
        ]
        team_level = [a for a in firing if (a.team, a.channel, a.region) == ("billing", ALL, ALL)]
        assert team_level, "billing's team-level timeout rate did not fire"
        first = min(team_level, key=lambda a: a.end)
        notes = [orjson.loads(b) for b in http_receiver.bodies]
        texts = [f"{n.get('title', '')}\n{n.get('message', '')}" for n in notes]
        assert all("billing" in t.lower() for t in texts), texts
        assert any("Timeout rate" in t for t in texts), texts
        billing = [t for t in texts if "Billing / all" in t and "Timeout rate" in t]
        assert billing, texts
        shown = billing[0]
        assert f"{first.value:.1%}"[:-2] in shown or f"{first.value * 100:.1f}" in shown, (first.value, shown)
        assert first.expected is not None
        assert f"{first.expected * 100:.1f}" in shown, (first.expected, shown)

        # (c) no alert before the incident
        assert all(a.end > incident_start for a in firing), [(a.start, a.end) for a in firing]
        assert first.end <= incident_start + timedelta(minutes=45), "detected only after the incident ended"
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(20)
    assert [p.returncode for p in procs] == [0, 0], "sqm flow / sqm alerter did not stop cleanly on SIGTERM"
