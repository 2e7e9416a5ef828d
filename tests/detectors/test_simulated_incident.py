"""End to end through the real parts: simulator → the flow's partition and roll-up steps → monitors.

No bytewax here (tests/streams and tests/e2e run the real dataflow); the same
step functions produce the snapshots and children every monitor sees.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from detectors import build_monitor
from sim.simulator import Incident, Simulator
from sqm.config import Settings
from sqm.models import encode
from streams import partition as P
from streams import rollup as R

CST = timezone(timedelta(hours=8))
START = datetime(2026, 3, 2, 8, tzinfo=CST)


def replay(settings: Settings, sim: Simulator, until: datetime):
    params = P.Params.of(settings)
    part = P.PartitionState(part="0")
    roll = R.RollupState(partitions=["0"])
    t, seq = sim.start, 0
    while t < until:
        t = min(t + timedelta(minutes=1), until)
        evs = list(sim.events(t))
        out = P.process(part, P.Chunk("0", [(f"{seq}-0".encode(), encode(evs))] if evs else []), params, wall=0.0)
        seq += 1
        roll.add("0", out.wm, out.deltas, out.stats)
        yield from R.close_minutes(roll, settings.detectors.window)


@pytest.mark.slow
def test_an_injected_timeout_incident_yields_one_anomaly_on_that_team_only():
    settings = Settings()
    incident = Incident.parse("team=billing kpi=timeout_rate change=+40% at=+2h for=45m")
    volumes = {"billing": 2000.0, "tech": 1400.0, "sales": 1000.0, "vip": 600.0}
    sim = Simulator(settings, seed=3, start=START, volumes=volumes, incidents=[incident])
    monitors = {}
    found = []
    for minute in replay(settings, sim, START + timedelta(hours=3)):
        for snap in minute.snapshots:
            if snap.final and snap.window == settings.detectors.window:
                mon = monitors.setdefault(snap.series, build_monitor(settings))
                found += mon.update(snap, minute.children.get(snap.series, ()))
    firing = [a for a in found if a.status == "firing"]
    team = [a for a in firing if (a.team, a.channel, a.region) == ("billing", "*", "*")]
    assert [(a.kpi, a.direction, a.detector) for a in team] == [("timeout_rate", "up", "swing")]
    hit = team[0]
    incident_at = START + timedelta(hours=2)
    assert incident_at < hit.end < incident_at + timedelta(minutes=75)
    assert hit.value > hit.upper and hit.expected == pytest.approx(0.09, abs=0.015)
    assert [a for a in firing if a.team not in ("billing", "*")] == []
    assert [a for a in firing if a.end <= incident_at] == []
    assert len(monitors) > 50  # every series of every team had a monitor
