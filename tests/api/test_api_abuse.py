"""Abusive callers: bogus keys per request, floods of addresses, anonymous live streams by the thousand."""

from __future__ import annotations

import contextlib
import logging
import secrets
import time

import httpx

from api.app import create_app
from api.limits import CallerLimits
from api.security import KeyRing
from sqm.config import ApiKey
from tests.api.conftest import KEYS, LiveServer, auth, event


def scope(key: str | None = None, address: str = "10.0.0.1", path: str = "/v1/kpis") -> dict:
    headers = [(b"authorization", f"Bearer {key}".encode())] if key else []
    return {"type": "http", "path": path, "headers": headers, "client": (address, 40000)}


def test_a_new_bogus_key_per_request_is_limited_like_no_key(make_client):
    c = make_client(keys=True, rate_limit_per_s=0.5, rate_limit_burst=3)
    codes = [c.get("/v1/kpis", headers={"Authorization": f"Bearer bogus-{secrets.token_hex(8)}"}).status_code
             for _ in range(4)]
    assert codes == [401, 401, 401, 429]
    assert c.get("/v1/kpis").status_code == 429  # no key: the same address's bucket
    assert c.get("/v1/kpis", headers=auth("viewer")).status_code == 200  # a real caller has its own


def test_a_flood_of_bogus_keys_and_addresses_does_not_reset_a_real_callers_bucket():
    now = [0.0]
    ring = KeyRing([ApiKey(key=KEYS["viewer"], role="viewer", name="wall")])
    limits = CallerLimits(ring, rate=0.001, burst=3, max_addresses=1000, clock=lambda: now[0])
    assert [limits.take(scope(KEYS["viewer"]))[0] for _ in range(4)] == [True, True, True, False]
    for i in range(20_000):
        limits.take(scope(f"bogus-{i}", address=f"10.{i // 65536}.{i // 256 % 256}.{i % 256}"))
    assert limits.take(scope(KEYS["viewer"]))[0] is False  # still spent: not evicted into a fresh bucket
    assert limits.caller(scope("bogus-x", address="10.9.9.9")) == "addr:10.9.9.9"
    assert limits.caller(scope(KEYS["viewer"], address="10.9.9.9")) == "key:wall"


def test_unknown_keys_are_logged_sampled(make_client, caplog):
    c = make_client(keys=True)
    with caplog.at_level(logging.INFO, logger="sqm.api"):
        for i in range(50):
            c.get("/v1/kpis", headers={"Authorization": f"Bearer bogus-{i}"})
    sampled = [r for r in caplog.records if "unknown API key" in r.getMessage() and "limited by address" in r.getMessage()]
    assert len(sampled) == 1
    assert all("bogus" not in r.getMessage() for r in caplog.records)


def _open_streams(http: httpx.Client, url: str, n: int, stack: contextlib.ExitStack, **kw) -> list[int]:
    codes = []
    for _ in range(n):
        r = stack.enter_context(http.stream("GET", f"{url}/v1/live", **kw))
        codes.append(r.status_code)
        if r.status_code != 200:
            r.read()
    return codes


def test_anonymous_live_streams_cannot_starve_ingest(redis, make_settings):
    settings = make_settings(keys=True, sse_max_anonymous=6, sse_max_per_address=6, sse_max_streams=8)
    with LiveServer(create_app(settings, redis=redis), limit_concurrency=10) as server, \
            httpx.Client(timeout=10, limits=httpx.Limits(max_connections=40)) as http, contextlib.ExitStack() as stack:
        codes = _open_streams(http, server.url, 14, stack)
        assert codes.count(200) == 6 and set(codes[6:]) == {429}
        r = http.post(f"{server.url}/v1/events", json=event(), headers=auth("ingest"))
        assert r.status_code == 202, r.text
        keyed = _open_streams(http, server.url, 3, stack, headers=auth("viewer"))
        assert keyed == [200, 200, 503]  # 8 in all
        assert http.post(f"{server.url}/v1/events", json=event(), headers=auth("ingest")).status_code == 202


def test_a_closed_stream_gives_its_slot_back(redis, make_settings):
    settings = make_settings(keys=True, sse_max_per_caller=1)
    app = create_app(settings, redis=redis)
    with LiveServer(app) as server, httpx.Client(timeout=10) as http:
        with http.stream("GET", f"{server.url}/v1/live", headers=auth("viewer")) as first:
            assert first.status_code == 200
            second = http.get(f"{server.url}/v1/live", headers=auth("viewer"))
            assert second.status_code == 429 and "sse_max_per_caller" in second.json()["detail"]
        deadline = time.monotonic() + 10
        while len(app.state.stream_slots) and time.monotonic() < deadline:
            time.sleep(0.05)
        with http.stream("GET", f"{server.url}/v1/live", headers=auth("viewer")) as again:
            assert again.status_code == 200


def test_security_headers_are_on_error_answers_too(make_client):
    from fastapi.testclient import TestClient

    c = make_client(keys=True, rate_limit_per_s=0.001, rate_limit_burst=1)
    app = c.app

    @app.get("/v1/boom")
    def boom() -> None:
        msg = "a bug"
        raise RuntimeError(msg)

    answers = [c.get("/v1/kpis", headers={"Authorization": "Bearer nope"}), c.get("/v1/kpis")]  # 401, then 429
    with TestClient(app, raise_server_exceptions=False) as raw:
        answers += [raw.get("/v1/boom", headers=auth("viewer")), raw.get("/nope", headers=auth("admin")),
                    raw.post("/v1/events", content=b"\xff", headers=auth("ingest"))]
    assert [r.status_code for r in answers] == [401, 429, 500, 404, 422]
    for r in answers:
        assert r.headers["x-content-type-options"] == "nosniff", r.status_code
        assert r.headers["x-frame-options"] == "DENY", r.status_code
        assert r.headers["content-security-policy"].startswith("default-src 'self'"), r.status_code
    assert answers[2].json() == {"detail": "internal error"}


def test_names_already_in_redis_reach_the_wallboard_escaped(client, redis):
    import msgspec

    from sqm import keys
    from tests.api.conftest import snapshot

    snap = snapshot("bill\x1b[2J\u202eing", channel="chat")
    redis.hset(keys.kpi_latest("1m"), keys.dims_field(snap["team"], "chat", "*"), msgspec.json.encode(snap))
    [row] = [r for r in client.get("/v1/kpis", params={"window": "1m"}).json() if r["channel"] == "chat"]
    assert row["team"] == "bill\\x1b[2J\\u202eing"
