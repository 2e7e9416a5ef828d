"""How fast the simulator makes events (bench, not a test).

    .venv/bin/python bench/sim_speed.py [--events 1000000] [--seed 1] [--ndjson PATH]

Prints events/s for generation alone (iterate and drop), and optionally for
generation + NDJSON encoding, against wall time and this process's CPU time
(the CPU figure is the fair one on a shared, busy machine).
"""

from __future__ import annotations

import argparse
import gc
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sim.simulator import Incident, Simulator, write_ndjson
from sqm.config import Settings


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--ndjson", default="")
    args = ap.parse_args()
    start = datetime(2026, 3, 2, tzinfo=ZoneInfo("Asia/Shanghai"))
    inc = Incident.parse("team=billing kpi=timeout_rate change=+40% at=10:00 for=45m")

    def sim() -> Simulator:
        return Simulator(Settings(), seed=args.seed, start=start, incidents=[inc])

    s = sim()
    n = 0
    t0, c0 = time.perf_counter(), time.process_time()
    for _ev in s.events():
        n += 1
        if n >= args.events:
            break
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"generate: {n:,} events ({s.contacts:,} contacts) in {dt:.2f} s wall, {cpu:.2f} s CPU"
          f" = {n / dt:,.0f} events/s wall, {n / cpu:,.0f} events/s CPU")
    gc.collect()
    if args.ndjson:
        s = sim()
        days = n / 60_000 + 1
        it = s.events(start + timedelta(days=days))
        t0, c0 = time.perf_counter(), time.process_time()
        written = write_ndjson((ev for _, ev in zip(range(args.events), it, strict=False)), args.ndjson)
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
        print(f"generate + write_ndjson: {written:,} events in {dt:.2f} s wall, {cpu:.2f} s CPU"
              f" = {written / dt:,.0f} events/s wall, {written / cpu:,.0f} events/s CPU")


if __name__ == "__main__":
    main()
