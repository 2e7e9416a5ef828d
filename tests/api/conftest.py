"""Factories for the API tests: settings, apps on the real Redis, events, snapshots, a live server, Chromium."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page, sync_playwright

from api.app import create_app
from sqm.clock import Clock
from sqm.config import Settings
from tests.conftest import CHROMIUM_ARGS, free_port

KEYS = {
    "ingest": "ingest-key-0123456789abcdef",
    "viewer": "viewer-key-0123456789abcdef",
    "supervisor": "supervisor-key-0123456789ab",
    "admin": "admin-key-0123456789abcdef01",
}
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
TEST_STREAMS: dict[str, Any] = {"partitions": 4, "ts_max_age_s": 0}
"""The fixtures' events are dated from T0, in the past of any wall clock the tests run at: no lower bound on
``ts`` here (test_api_event_times.py checks the bounds with a ManualClock)."""


@pytest.fixture
def make_settings() -> Callable[..., Settings]:
    def make(*, keys: bool = False, **api: Any) -> Settings:
        api.setdefault("wallboard_window", "1m")  # the tests' snapshots are 1-minute ones
        if keys:
            api["keys"] = [{"key": k, "role": role, "name": f"{role}-test"} for role, k in KEYS.items()]
        return Settings(api=api, streams=TEST_STREAMS)

    return make


@pytest.fixture
def make_client(redis: Any, make_settings: Callable[..., Settings]) -> Iterator[Callable[..., TestClient]]:
    clients: list[TestClient] = []

    def make(settings: Settings | None = None, clock: Clock | None = None, **kw: Any) -> TestClient:
        app = create_app(settings or make_settings(**kw), redis=redis, clock=clock)
        client = TestClient(app)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for c in clients:
        c.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    """An app with no keys (development: open)."""
    return make_client()


@pytest.fixture
def secured(make_client: Callable[..., TestClient]) -> TestClient:
    """An app with one key per role and the public wallboard on."""
    return make_client(keys=True)


CW_SECRET = "chatwoot-signing-secret-0123"
ZD_SECRET = "zendesk-signing-secret-4567"
SOURCES = [
    {"name": "cw", "kind": "chatwoot", "secret": CW_SECRET, "team_map": {"Billing L1": "billing", "inbox:7": "vip"},
     "region": "east"},
    {"name": "zd", "kind": "zendesk", "secret": ZD_SECRET, "team_map": {"Tech support": "tech"}},
    {"name": "open", "kind": "chatwoot", "default_team": "sales"},
]


@pytest.fixture
def hooks(make_client: Callable[..., TestClient]) -> TestClient:
    """An app with the helpdesk sources of ``SOURCES`` (two signed, one unsigned) and an ingest key."""
    return make_client(Settings(api={"webhooks": SOURCES, "keys": [{"key": KEYS["ingest"], "role": "ingest"}]},
                                streams=TEST_STREAMS))


def auth(role: str, how: str = "bearer") -> dict[str, str]:
    if how == "bearer":
        return {"Authorization": f"Bearer {KEYS[role]}"}
    return {"X-API-Key": KEYS[role]}


_seq = iter(range(10**9))


def event(**over: Any) -> dict[str, Any]:
    """A valid contact.created event; keyword arguments override or (with None) remove fields."""
    i = next(_seq)
    ev: dict[str, Any] = {
        "event_id": f"ev-{i}",
        "type": "contact.created",
        "ts": (T0 + timedelta(seconds=i)).isoformat(),
        "contact_id": f"c-{i}",
        "team": "billing",
        "channel": "chat",
        "region": "east",
    }
    ev.update(over)
    return {k: v for k, v in ev.items() if v is not None}


def snapshot(team: str = "*", window: str = "1m", start: datetime = T0, final: bool = True,
             channel: str = "*", region: str = "*", **kpis: float | None) -> dict[str, Any]:
    length = {"1m": 60, "5m": 300, "1h": 3600, "60m": 3600}[window]
    values: dict[str, float | None] = {"volume": 40.0, "frt_avg_s": 60.0, "frt_p90_s": 150.0,
                                       "service_level": 0.97, "timeout_rate": 0.03}
    values.update(kpis)
    return {
        "window": window, "start": start.isoformat(), "end": (start + timedelta(seconds=length)).isoformat(),
        "team": team, "channel": channel, "region": region, "kpis": values,
        "n": {k: 40 for k, v in values.items() if v is not None}, "final": final,
    }


class LiveServer:
    """uvicorn serving an app on a free loopback port, in a thread."""

    def __init__(self, app: Any, port: int | None = None, limit_concurrency: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                lifespan="on", timeout_graceful_shutdown=2, limit_concurrency=limit_concurrency)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            time.sleep(0.05)
        msg = "uvicorn did not start within 15 s"
        raise RuntimeError(msg)

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def live_server(redis: Any, make_settings: Callable[..., Settings]) -> Callable[..., LiveServer]:
    def make(settings: Settings | None = None, **kw: Any) -> LiveServer:
        return LiveServer(create_app(settings or make_settings(**kw), redis=redis))

    return make


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Browser]:
    """Debian's headless Chromium through Playwright, one per test module."""
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def browser_page(browser: Browser) -> Iterator[Page]:
    """A fresh page; the test fails if the page raised a JavaScript error."""
    context = browser.new_context(viewport={"width": 1600, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    yield page
    context.close()
    assert errors == []
