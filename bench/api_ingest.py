"""HTTP ingest and read throughput of the API: ``./dev bench api_ingest [--seconds 5]``.

Runs the real app under uvicorn in a child process (one worker) on an embedded
Redis and posts ServiceEvents from this process with keep-alive httpx clients:
batches of 1, 100 and 1,000 events per request, with 1 and 4 concurrent clients.
Reports events/s, requests/s and request latency p50/p99, then GET /v1/kpis and
the SSE fan-out latency (publish → client) with 50 open streams.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def serve(redis_url: str, port: int) -> None:
    import uvicorn

    from api.app import create_app
    from sqm.config import Settings
    from sqm.store import connect

    settings = Settings(api={"rate_limit_per_s": 0, "max_batch": 5000, "max_body_bytes": 10_000_000})
    uvicorn.run(create_app(settings, redis=connect(redis_url)), host="127.0.0.1", port=port, log_level="warning")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
TEAMS = ["billing", "tech", "sales", "vip"]


def batch_body(start: int, size: int) -> bytes:
    evs = [{"event_id": f"b{start + i}", "type": "contact.created", "ts": (T0 + timedelta(seconds=(start + i) % 86400)).isoformat(),
            "contact_id": f"c{start + i}", "team": TEAMS[i % 4], "channel": "chat", "region": "east"} for i in range(size)]
    return json.dumps(evs[0] if size == 1 else evs).encode()


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def run_ingest(url: str, size: int, clients: int, seconds: float) -> dict[str, float]:
    bodies = [batch_body(k * size, size) for k in range(20)]
    lat: list[float] = []
    sent = [0]
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def worker() -> None:
        mine: list[float] = []
        n = 0
        with httpx.Client(timeout=30) as c:
            i = 0
            while time.perf_counter() < stop:
                t = time.perf_counter()
                r = c.post(f"{url}/v1/events", content=bodies[i % len(bodies)], headers={"Content-Type": "application/json"})
                mine.append(time.perf_counter() - t)
                if r.status_code != 202:
                    msg = f"ingest answered {r.status_code}: {r.text[:200]}"
                    raise RuntimeError(msg)
                n += size
                i += 1
        with lock:
            lat.extend(mine)
            sent[0] += n

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    took = time.perf_counter() - t0
    return {"events_per_s": sent[0] / took, "requests_per_s": len(lat) / took,
            "p50_ms": pct(lat, 0.5) * 1000, "p99_ms": pct(lat, 0.99) * 1000}


def run_reads(url: str, seconds: float) -> dict[str, float]:
    lat = []
    stop = time.perf_counter() + seconds
    with httpx.Client(timeout=30) as c:
        while time.perf_counter() < stop:
            t = time.perf_counter()
            c.get(f"{url}/v1/kpis", params={"window": "1m", "channel": "*", "region": "*"}).raise_for_status()
            lat.append(time.perf_counter() - t)
    return {"requests_per_s": len(lat) / seconds, "p50_ms": pct(lat, 0.5) * 1000, "p99_ms": pct(lat, 0.99) * 1000}


def run_fanout(url: str, redis_url: str, streams: int, messages: int) -> dict[str, float]:
    from sqm import keys
    from sqm.store import connect

    redis = connect(redis_url)
    got: list[list[float]] = [[] for _ in range(streams)]
    ready = threading.Barrier(streams + 1)

    def reader(k: int) -> None:
        with httpx.Client(timeout=60) as c, c.stream("GET", f"{url}/v1/live") as r:
            lines = r.iter_lines()
            for line in lines:
                if line.startswith("data:"):
                    break  # hello
            ready.wait()
            for line in lines:
                if line.startswith("data:"):
                    sent_at = json.loads(line[5:])[0]["sent"]
                    got[k].append(time.time() - sent_at)
                    if len(got[k]) >= messages:
                        return

    threads = [threading.Thread(target=reader, args=(k,), daemon=True) for k in range(streams)]
    for th in threads:
        th.start()
    ready.wait()
    time.sleep(1.0)  # the broadcaster's subscription
    for _ in range(messages):
        redis.publish(keys.KPI_LIVE, json.dumps([{"sent": time.time()}]))
        time.sleep(0.05)
    for th in threads:
        th.join(30)
    lat = [x for xs in got for x in xs]
    return {"streams": streams, "delivered": len(lat), "expected": streams * messages,
            "p50_ms": statistics.median(lat) * 1000, "p99_ms": pct(lat, 0.99) * 1000}


def main() -> int:
    parser = argparse.ArgumentParser(description="API ingest/read/SSE throughput")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--serve", nargs=2, metavar=("REDIS_URL", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], int(args.serve[1]))
        return 0
    from sqm.store import embedded_redis

    with tempfile.TemporaryDirectory() as tmp, embedded_redis(Path(tmp)) as redis_url:
        port = free_port()
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        child = subprocess.Popen([sys.executable, __file__, "--serve", redis_url, str(port)], env=env)
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(200):
                try:
                    httpx.get(f"{url}/healthz", timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.05)
            print(f"# API ingest, one uvicorn worker, embedded Redis, {args.seconds:.0f} s per row")
            print(f"{'batch':>6} {'clients':>7} {'events/s':>10} {'requests/s':>10} {'p50 ms':>7} {'p99 ms':>7}")
            for size in (1, 100, 1000):
                for clients in (1, 4):
                    r = run_ingest(url, size, clients, args.seconds)
                    print(f"{size:>6} {clients:>7} {r['events_per_s']:>10,.0f} {r['requests_per_s']:>10,.0f} "
                          f"{r['p50_ms']:>7.2f} {r['p99_ms']:>7.2f}")
            r = run_reads(url, args.seconds)
            print(f"# GET /v1/kpis (team rows): {r['requests_per_s']:,.0f} req/s, p50 {r['p50_ms']:.2f} ms, "
                  f"p99 {r['p99_ms']:.2f} ms")
            f = run_fanout(url, redis_url, streams=50, messages=40)
            print(f"# SSE fan-out to {f['streams']} streams: {f['delivered']}/{f['expected']} delivered, "
                  f"publish→client p50 {f['p50_ms']:.1f} ms, p99 {f['p99_ms']:.1f} ms")
        finally:
            child.terminate()
            child.wait(10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
