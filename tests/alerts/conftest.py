"""The shared ``http_receiver`` with a fast shutdown (a 50 ms poll instead of 0.5 s: ~50 tests here use it)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.conftest import Receiver, free_port


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
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield rec
    server.shutdown()
    server.server_close()
