"""The long history and the quarterly report: ``./dev bench long_history [--series 150 --days 90]``.

Fills an embedded Redis with ``--days`` of daily aggregates (``KpiAggregate``, a realistic
first-response histogram each) for ``--series`` series, then times, in process (FastAPI's
TestClient, no network):

- ``GET /v1/kpis/history?grain=day`` of each series over the whole range, and beside it the
  bare ``ZRANGEBYSCORE`` of the same keys (the store's part of the cost);
- ``grain=week`` (days merged into ISO weeks);
- a quarterly report of the whole centre (build, six charts, HTML, PDF) and beside it a
  daily report's, from the same store.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SITE = ZoneInfo("Asia/Shanghai")
FIRST = datetime(2026, 1, 1, tzinfo=SITE)


def series_dims(count: int, teams: list[str], channels: list[str], regions: list[str]) -> list[tuple[str, str, str]]:
    dims = [("*", "*", "*")] + [(t, "*", "*") for t in teams] + [("*", c, "*") for c in channels]
    dims += [("*", "*", r) for r in regions] + [(t, c, "*") for t in teams for c in channels]
    dims += [(t, c, r) for t in teams for c in channels for r in regions]
    if count > len(dims):
        msg = f"--series {count}: the settings give only {len(dims)} series"
        raise SystemExit(msg)
    return dims[:count]


def fill(redis, dims, days: int, rng) -> int:
    from sqm import keys
    from sqm.aggregates import KpiAggregate
    from sqm.models import encode

    values = [2.0 * 1.0202**k / 2.0202 for k in range(0, 460)]
    written = 0
    for team, channel, region in dims:
        pipe = redis.pipeline(transaction=False)
        for d in range(days):
            start = FIRST + timedelta(days=d)
            n = int(rng.integers(800, 1200))
            frt = rng.lognormal(3.5, 1.0, n)
            bins = np.clip(np.ceil(np.log(frt) / np.log(1.0202)).astype(int), 0, 459)
            ks, cs = np.unique(bins, return_counts=True)
            agg = KpiAggregate(grain="1d", start=start, end=start + timedelta(days=1), team=team, channel=channel,
                               region=region, kpis={"volume": float(n), "frt_avg_s": float(frt.mean()),
                                                    "service_level": 0.95, "fcr_rate": 0.86, "csat": 0.91,
                                                    "nps": 45.0, "complaint_rate": 0.015, "timeout_rate": 0.04,
                                                    "abandon_rate": 0.03, "aht_s": 380.0, "complaint_timely_rate": 0.99},
                               n={"volume": n, "frt_avg_s": n, "service_level": n, "fcr_rate": n, "csat": n // 3,
                                  "nps": n // 10, "complaint_rate": n, "timeout_rate": n, "abandon_rate": n,
                                  "aht_s": n, "complaint_timely_rate": 15},
                               nps_detractors=n // 80, frt_hist=[(values[k], int(c)) for k, c in zip(ks, cs, strict=True)])
            pipe.zadd(keys.kpi_aggregates(agg.series), {encode(agg): start.timestamp()})
            written += 1
        pipe.execute()
    return written


def timed(fn, repeat: int = 1) -> list[float]:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--series", type=int, default=150)
    ap.add_argument("--days", type=int, default=90)
    args = ap.parse_args()

    from fastapi.testclient import TestClient

    from api.app import create_app
    from improve.render import pdf
    from improve.service import make_report
    from sqm import keys
    from sqm.clock import ManualClock
    from sqm.config import Settings
    from sqm.store import connect, embedded_redis

    # 4 teams x 4 channels x 8 regions: 161 series at every roll-up level, the first --series of them
    settings = Settings(api={"rate_limit_per_s": 0}, regions=[f"r{i}" for i in range(1, 9)])
    with tempfile.TemporaryDirectory() as tmp, embedded_redis(Path(tmp)) as url:
        redis = connect(url)
        dims = series_dims(args.series, [t.name for t in settings.teams], [c.name for c in settings.channels],
                           list(settings.regions))
        t0 = time.perf_counter()
        written = fill(redis, dims, args.days, np.random.default_rng(1))
        used = int(redis.info("memory")["used_memory"])
        print(f"# {written:,} daily aggregates ({len(dims)} series x {args.days} days) written in "
              f"{time.perf_counter() - t0:.1f} s; Redis used_memory {used / 1e6:.1f} MB "
              f"({used / written:,.0f} B per series-day)")
        end = FIRST + timedelta(days=args.days)
        client = TestClient(create_app(settings, redis=redis, clock=ManualClock(end)))
        params = [{"team": t, "channel": c, "region": r, "since": FIRST.isoformat(), "until": end.isoformat()}
                  for t, c, r in dims]

        def api(grain: str) -> list[float]:
            times = []
            for p in params:
                t = time.perf_counter()
                r = client.get("/v1/kpis/history", params=p | {"grain": grain})
                times.append(time.perf_counter() - t)
                assert r.status_code == 200 and r.json()["points"], r.text[:200]
            return times

        def bare() -> list[float]:
            times = []
            for t_, c, r in dims:
                t = time.perf_counter()
                redis.zrangebyscore(keys.kpi_aggregates(f"1d|{t_}|{c}|{r}"), FIRST.timestamp(), end.timestamp())
                times.append(time.perf_counter() - t)
            return times

        api("day")  # warm up
        for label, times in (("GET history grain=day", api("day")), ("GET history grain=week", api("week")),
                             ("reference: ZRANGEBYSCORE of the same keys", bare())):
            ms = sorted(x * 1000 for x in times)
            print(f"{label:45s} {len(ms)} series: p50 {statistics.median(ms):6.2f} ms  p90 {ms[int(0.9 * (len(ms) - 1))]:6.2f} ms"
                  f"  all {sum(ms) / 1000:5.2f} s")

        quarter = "2026-Q1" if args.days >= 90 else "2026-01"
        for label, period in ((f"quarterly report {quarter}", quarter), ("reference: daily report 2026-01-15", "2026-01-15")):
            build = timed(lambda p=period: make_report(settings, redis, p, "*", "zh", now=end), 3)
            rendered = make_report(settings, redis, period, "*", "zh", now=end)
            draw = timed(lambda r=rendered: pdf(r), 3)
            print(f"{label:45s} build + charts + HTML {min(build):5.2f} s, PDF {min(draw):5.2f} s (best of 3), "
                  f"{len(pdf(rendered)):,} B")


if __name__ == "__main__":
    main()
