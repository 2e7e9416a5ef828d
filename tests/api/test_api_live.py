"""GET /v1/live relays the KPI pub/sub channel as Server-Sent Events (real uvicorn, real Redis)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import httpx
import msgspec

from sqm import keys
from tests.api.conftest import auth, snapshot


def sse_events(lines: Iterator[str]) -> Iterator[tuple[str, str]]:
    kind, data = "message", []
    for line in lines:
        if line == "":
            if data:
                yield kind, "\n".join(data)
            kind, data = "message", []
        elif line.startswith("event:"):
            kind = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip())


def publish_until_seen(redis, app, payload: bytes, seen: threading.Event) -> None:
    """Publish once the broadcaster is subscribed; again until the reader has it (pub/sub keeps nothing)."""
    app.state.broadcaster.subscribed.wait(10)
    for _ in range(50):
        redis.publish(keys.KPI_LIVE, payload)
        if seen.wait(0.2):
            return


def read_kpis(url: str, headers: dict[str, str], redis, app, payload: bytes) -> list[list[dict]]:
    got: list[list[dict]] = []
    seen = threading.Event()
    with httpx.Client(timeout=10) as http, http.stream("GET", url, headers=headers) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = sse_events(r.iter_lines())
        assert next(events)[0] == "hello"
        threading.Thread(target=publish_until_seen, args=(redis, app, payload, seen), daemon=True).start()
        for kind, data in events:
            if kind == "kpis":
                got.append(json.loads(data))
                seen.set()
                break
    return got


def test_a_published_snapshot_list_reaches_the_client(live_server, redis):
    server = live_server()
    with server:
        payload = msgspec.json.encode([snapshot("billing", frt_avg_s=61.5), snapshot("*", frt_avg_s=50.0)])
        [msg] = read_kpis(f"{server.url}/v1/live", {}, redis, server.server.config.app, payload)
        assert [(s["team"], s["kpis"]["frt_avg_s"]) for s in msg] == [("billing", 61.5), ("*", 50.0)]


def test_the_window_filter_keeps_only_that_window(live_server, redis):
    server = live_server()
    with server:
        payload = msgspec.json.encode([snapshot("billing", window="5m"), snapshot("tech", window="1m")])
        [msg] = read_kpis(f"{server.url}/v1/live?window=1m", {}, redis, server.server.config.app, payload)
        assert [(s["team"], s["window"]) for s in msg] == [("tech", "1m")]


def test_live_needs_a_key_when_the_wallboard_is_not_public(live_server, redis):
    server = live_server(keys=True, public_wallboard=False)
    with server:
        assert httpx.get(f"{server.url}/v1/live", timeout=5).status_code == 401
        payload = msgspec.json.encode([snapshot("vip")])
        [msg] = read_kpis(f"{server.url}/v1/live", auth("viewer"), redis, server.server.config.app, payload)
        assert msg[0]["team"] == "vip"


def test_clients_are_counted_and_released(live_server, redis):
    server = live_server()
    app = server.server.config.app
    with server:
        with httpx.Client(timeout=10) as http, http.stream("GET", f"{server.url}/v1/live") as r:
            events = sse_events(r.iter_lines())  # keep a reference: closing the generator closes the connection
            assert next(events)[0] == "hello"
            assert app.state.broadcaster.clients == 1
            sse_lines = [x for x in httpx.get(f"{server.url}/metrics").text.splitlines() if x.startswith("sqm_api_sse")]
            assert sse_lines == ["sqm_api_sse_clients 1.0"]
        deadline = time.monotonic() + 10
        while app.state.broadcaster.clients and time.monotonic() < deadline:
            time.sleep(0.05)
        assert app.state.broadcaster.clients == 0


def test_dimension_filters_keep_only_those_snapshots(live_server, redis):
    server = live_server()
    with server:
        payload = msgspec.json.encode([snapshot("billing"), snapshot("billing", channel="chat"),
                                       snapshot("*", channel="chat"), snapshot("*", channel="chat", region="east")])
        [msg] = read_kpis(f"{server.url}/v1/live?window=1m&channel=chat&region=*", {}, redis,
                          server.server.config.app, payload)
        assert [(s["team"], s["channel"], s["region"]) for s in msg] == [("billing", "chat", "*"), ("*", "chat", "*")]


def test_a_slow_client_loses_its_oldest_messages_not_memory():
    import asyncio

    from api.live import Subscription

    async def run() -> tuple[list, int]:
        sub = Subscription(asyncio.get_running_loop(), size=3)
        for i in range(10):
            sub._put(("ch", str(i).encode()))
        got = [await sub.get(timeout=1) for _ in range(3)]
        return got, sub.dropped

    got, dropped = asyncio.run(run())
    assert [d for _, d in got] == [b"7", b"8", b"9"] and dropped == 7


def test_the_broadcaster_keeps_retrying_while_redis_is_away_and_stops_cleanly():
    import asyncio

    import redis as redis_lib

    from api.live import Broadcaster

    dead = redis_lib.Redis.from_url("redis://127.0.0.1:1", socket_connect_timeout=0.1)
    b = Broadcaster(dead, ["sqm:kpi:live"], poll_s=0.05)

    async def run() -> None:
        sub = b.subscribe()
        await asyncio.sleep(1.2)  # several failed attempts with back-off, no exception escapes
        assert not b.subscribed.is_set() and b._thread is not None and b._thread.is_alive()
        await asyncio.to_thread(b.stop, 5.0)
        assert await sub.get(timeout=1) is None  # the stream is told to end

    asyncio.run(run())
    assert b._thread is None
