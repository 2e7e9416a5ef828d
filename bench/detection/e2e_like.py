"""The lead's end-to-end scenario, many seeds: does the default monitor find the one incident, and only it?

3 simulated hours, four teams, one +40 % timeout_rate incident of 45 minutes on
billing starting at hour 2; every series of the detector window gets a monitor,
as in ``streams.flow``. Prints, per seed, the firing anomalies.

    .venv/bin/python bench/detection/e2e_like.py [--seeds 10] [--volume 2000]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[2])]

from flowlike import minutes  # noqa: E402

from detectors import build_monitor  # noqa: E402
from sqm.config import Settings  # noqa: E402
from streams.sim_incidents import Incident  # noqa: E402
from streams.simulator import Simulator  # noqa: E402

CST = timezone(timedelta(hours=8))


def run(seed: int, volume: float, start_hour: int, settings: Settings) -> tuple[list, float]:
    start = datetime(2026, 3, 2, start_hour, tzinfo=CST)
    inc = Incident.parse("team=billing kpi=timeout_rate change=+40% at=+2h for=45m")
    vols = {"billing": volume, "tech": volume * 0.7, "sales": volume * 0.5, "vip": volume * 0.3}
    sim = Simulator(settings, seed=seed, start=start, volumes=vols, incidents=[inc])
    monitors: dict[str, object] = {}
    found = []
    t = time.perf_counter()
    for minute in minutes(settings, sim, start + timedelta(hours=3)):
        for snap in minute.snapshots:
            if not snap.final or snap.window != settings.detectors.window:
                continue
            mon = monitors.get(snap.series)
            if mon is None:
                mon = monitors[snap.series] = build_monitor(settings)
            for a in mon.update(snap, minute.children.get(snap.series, ())):
                found.append(a)
    return found, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=6)
    ap.add_argument("--volume", type=float, default=2000.0, help="billing's mean contacts/hour (others less)")
    ap.add_argument("--start-hour", type=int, default=8)
    args = ap.parse_args()
    settings = Settings()
    ok = 0
    for seed in range(args.seeds):
        found, secs = run(seed, args.volume, args.start_hour, settings)
        firing = [a for a in found if a.status == "firing"]
        hit = [
            a
            for a in firing
            if a.team == "billing" and a.kpi == "timeout_rate" and a.channel == "*" and a.region == "*"
        ]
        other = [a for a in firing if a.team not in ("billing", "*")]
        ok += len(hit) == 1 and not other
        kinds = Counter(f"{a.team}|{a.channel}|{a.region}:{a.kpi}:{a.severity}" for a in firing)
        print(f"seed {seed}: {secs:.0f}s team-hit={len(hit)} other-team={len(other)} firing={dict(kinds)}", flush=True)
        for a in firing:
            print(
                "   ",
                a.end.astimezone(CST).strftime("%H:%M"),
                a.team,
                a.channel,
                a.region,
                a.kpi,
                a.reason_en,
                f"n={a.n}",
            )
    print(
        f"{ok}/{args.seeds} seeds: billing's timeout_rate fired once, no other team fired (aggregates '*' may carry it)"
    )


if __name__ == "__main__":
    main()
