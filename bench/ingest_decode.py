"""The one decode path's cost beside the bare decoder it wraps, and the memory guard's beside a bare INFO.

- stream entries of 100 events: ``sqm.models.decode_events`` (what the flow's source calls today) vs
  ``sqm.ingest.decode_entry`` (total, with the accepted ``ts`` range per event);
- one HTTP batch of 1,000: ``decode_events`` vs ``sqm.ingest.decode_batch``;
- ``MemoryGuard.refusal()`` (cached ``INFO memory``) vs one ``INFO memory`` round trip, on an embedded Redis.

Usage: ``./dev bench ingest_decode [--entries 2000]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec

from sqm.ingest import EventTimes, decode_batch, decode_entry
from sqm.models import decode_events
from sqm.store import MemoryGuard, connect, embedded_redis, memory_info

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
TIMES = EventTimes(max_age_s=7 * 86400, max_ahead_s=300)


def events(n: int) -> list[dict]:
    return [{"event_id": f"e{i}", "type": "contact.created", "ts": (NOW - timedelta(seconds=i)).isoformat(),
             "contact_id": f"c{i}", "team": ("billing", "tech", "sales", "vip")[i % 4], "channel": "chat",
             "region": "east"} for i in range(n)]


def best_of(rounds: int, fn) -> float:
    out = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return min(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--entries", type=int, default=2000)
    args = ap.parse_args()
    entry = msgspec.json.encode(events(100))
    batch = msgspec.json.encode(events(1000))
    now = NOW.timestamp()
    n = args.entries * 100
    bare = best_of(5, lambda: [decode_events(entry) for _ in range(args.entries)])
    total = best_of(5, lambda: [decode_entry(entry, source="0000/1-0", times=TIMES, now=now) for _ in range(args.entries)])
    print(f"stream entries of 100: decode_events {n / bare:,.0f} events/s, decode_entry {n / total:,.0f} events/s "
          f"({(total - bare) / n * 1e9:.0f} ns more an event)")
    bare_b = best_of(5, lambda: [decode_events(batch) for _ in range(200)])
    total_b = best_of(5, lambda: [decode_batch(batch, times=TIMES, now=now) for _ in range(200)])
    print(f"HTTP batches of 1,000: decode_events {200 * 1000 / bare_b:,.0f} events/s, decode_batch "
          f"{200 * 1000 / total_b:,.0f} events/s")
    with tempfile.TemporaryDirectory() as d, embedded_redis(Path(d)) as url:
        client = connect(url)
        guard = MemoryGuard(client, headroom=0.1, ttl_s=1.0)
        k = 2000
        info = best_of(3, lambda: [memory_info(client) for _ in range(k)])
        cached = best_of(3, lambda: [guard.refusal() for _ in range(k)])
        print(f"memory check per request: INFO memory {info / k * 1e6:.1f} µs, MemoryGuard.refusal (cached 1 s) "
              f"{cached / k * 1e6:.2f} µs")


if __name__ == "__main__":
    main()
