"""Load and slowness for the outbox tests: CPU burners and a receiver slower than a send lease."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.conftest import free_port


@pytest.fixture
def cpu_burners() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Two busy loops (one per core of the machine this runs on) for the length of the test."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    yield procs
    for p in procs:
        p.kill()
        p.wait(10)


@dataclass
class SlowReceiver:
    """A local HTTP receiver whose every answer takes ``answer_s``: the reply trickles out byte by byte, so
    no read timeout fires while the sender waits. With ``counting`` off a request is taken but not counted
    (a try whose sender dies before the answer)."""

    url: str
    answer_s: float = 5.0
    counting: bool = True
    got: list[bytes] = field(default_factory=list)
    tries: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self) -> int:
        with self.lock:
            return len(self.got)


@pytest.fixture
def slow_receiver() -> Iterator[SlowReceiver]:
    rec = SlowReceiver(url=f"127.0.0.1:{free_port()}")
    reply = b'{"errcode": 0, "errmsg": "ok"}'

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with rec.lock:
                rec.tries.append(time.monotonic())
                if rec.counting:
                    rec.got.append(body)
                step = rec.answer_s / len(reply)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            try:
                for byte in reply:
                    time.sleep(step)
                    self.wfile.write(bytes([byte]))
            except OSError:  # the sender is gone
                pass

        def log_message(self, *args: object) -> None:
            pass

    host, port = rec.url.split(":")
    server = ThreadingHTTPServer((host, int(port)), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield rec
    server.shutdown()
    server.server_close()


@dataclass
class LateReceiver:
    """A local HTTP receiver that reads each request, waits, then answers 200 at once: a receiver slower than a
    read timeout. ``delays_s[i]`` is the wait before answering request ``i`` (the last one repeats). Each request
    is kept as (arrival, Idempotency-Key, body); ``answered`` counts the answers written out in full."""

    url: str
    delays_s: list[float] = field(default_factory=lambda: [0.0])
    got: list[tuple[float, str, bytes]] = field(default_factory=list)
    answered: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def keys(self) -> list[str]:
        with self.lock:
            return [k for _, k, _ in self.got]


@pytest.fixture
def late_receiver() -> Iterator[LateReceiver]:
    rec = LateReceiver(url=f"127.0.0.1:{free_port()}")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with rec.lock:
                n = len(rec.got)
                rec.got.append((time.monotonic(), self.headers.get("Idempotency-Key", ""), body))
                delay = rec.delays_s[min(n, len(rec.delays_s) - 1)]
            time.sleep(delay)
            try:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")
                self.wfile.flush()
                with rec.lock:
                    rec.answered += 1
            except OSError:  # the sender gave up and closed the connection
                pass

        def log_message(self, *args: object) -> None:
            pass

    host, port = rec.url.split(":")
    server = ThreadingHTTPServer((host, int(port)), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield rec
    server.shutdown()
    server.server_close()
