"""Alerting under faults, with real processes: a slow, a failing, a fast HTTP receiver and an SMTP server;
an alerter SIGKILLed mid-send, two alerters after it, Redis SIGSTOPped for 10 s while alerts flow.

Nothing lost: every alert reaches every receiver. Nothing doubled: each receiver gets each notification
once, except the documented at-least-once window (an alerter killed after a receiver took a message and
before the result was stored), whose repeats carry the notification's Idempotency-Key, so a receiver that
keeps keys records each once. The figures are printed (``-s``); bench/README.md keeps a run of them.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.header import decode_header, make_header

import pytest

from alerts.outbox import latest_notifications
from sqm.config import Settings
from sqm.keys import ANOMALIES
from sqm.models import encode
from sqm.store import connect, embedded_redis
from tests.alerts.factories import anomaly
from tests.alerts.processes import start_alerter, stop

pytestmark = pytest.mark.slow
PER_BATCH = 20


@pytest.fixture
def own_redis(tmp_path):
    """A Redis server of this test alone: it is SIGSTOPped."""
    with embedded_redis(tmp_path / "redis") as url:
        client = connect(url)
        yield url, client
        with contextlib.suppress(Exception):
            os.kill(int(client.info("server")["process_id"]), signal.SIGCONT)
        client.close()


def _settings(fast, slow, failing, mailbox) -> Settings:
    mail = (f"mailto://user:pass@{mailbox.host}:{mailbox.port}?from=sqm@example.com&to=boss@example.com"
            "&mode=insecure")
    receivers = [{"name": "fast", "urls": [f"json://{fast.url}/hook"], "language": "en"},
                 {"name": "slow", "urls": [f"json://{slow.url}/hook"], "language": "en"},
                 {"name": "failing", "urls": [f"json://{failing.url}/hook"], "language": "en"},
                 {"name": "mail", "urls": [mail], "language": "en"}]
    every = ["kpi=~.+"]
    route = {"receiver": "fast", "routes": [{"receiver": r, "matchers": every, "continue": True}
                                            for r in ("fast", "slow", "failing", "mail")]}
    return Settings(alerts={"receivers": receivers, "route": route, "group_wait_s": 0, "group_interval_s": 600,
                            "repeat_interval_s": 86400, "inhibit_rules": [], "escalation_policies": {},
                            "timeout_s": 5, "send_lease_s": 12, "retry_base_s": 1, "retry_max_s": 4,
                            "heartbeat": {"enabled": False}})


def _push(redis, teams, rate: float) -> None:
    """A producer that retries what Redis did not take (a retried XADD may land twice: same anomaly, one alert)."""
    now = datetime.now(UTC)
    for team in teams:
        while True:
            try:
                redis.xadd(ANOMALIES, {"a": encode(anomaly(team=team, at=now, incident_start=now - timedelta(minutes=1)))})
                break
            except Exception:
                time.sleep(0.5)
        time.sleep(1 / rate)


def _mail_subjects(mailbox) -> list[str]:
    return [str(make_header(decode_header(message_from_bytes(raw)["Subject"] or ""))) for _, _, raw in mailbox.messages]


def _team_of(title: str) -> str:
    return title.split("· ")[1].split(" /")[0]


def test_nothing_lost_nothing_doubled_under_faults(own_redis, http_receiver, late_receiver, smtp_server, tmp_path):
    url, redis = own_redis
    redis_pid = int(redis.info("server")["process_id"])
    failing = _FailingFor(seconds=15)
    late_receiver.delays_s = [2.0]
    with failing.serve() as failing_rec:
        s = _settings(http_receiver, late_receiver, failing_rec, smtp_server)
        logs = [open(tmp_path / f"alerter-{n}.log", "wb") for n in "abc"]  # noqa: SIM115
        first = start_alerter(s, url, log=logs[0])
        others = []
        try:
            teams = [f"F{i:03d}" for i in range(3 * PER_BATCH)]
            _push(redis, teams[:PER_BATCH], rate=20)
            assert _until(lambda: len(late_receiver.got) >= 1, 30), "the slow receiver got a first request"
            kill_at = time.monotonic()
            first.send_signal(signal.SIGKILL)  # mid-send: the slow receiver holds that request for 2 s
            first.wait(10)
            others = [start_alerter(s, url, log=log) for log in logs[1:]]
            feeder = threading.Thread(target=_push, args=(redis, teams[PER_BATCH:], 10))
            feeder.start()
            time.sleep(1.5)
            os.kill(redis_pid, signal.SIGSTOP)
            time.sleep(10)
            os.kill(redis_pid, signal.SIGCONT)
            feeder.join(120)
            done = _until(lambda: _all_delivered(redis, len(teams) * 4), 150)
            notes = latest_notifications(redis, 1000)
        finally:
            for p in [first, *others]:
                stop(p)
            for log in logs:
                log.close()
    created = Counter(n.receiver for n in notes)
    delivered = Counter(n.receiver for n in notes if n.status == "delivered")
    received = {"fast": [_team_of(json.loads(b)["title"]) for b in http_receiver.bodies],
                "slow": [_team_of(json.loads(b)["title"]) for _, _, b in late_receiver.got],
                "failing": [_team_of(json.loads(b)["title"]) for b in failing_rec.bodies],
                "mail": [_team_of(t) for t in _mail_subjects(smtp_server)]}
    keys_of = {"slow": [k for _, k, _ in late_receiver.got], "fast": [h.get("Idempotency-Key", "")
                                                                      for _, h, _ in http_receiver.requests]}
    early_slow = {k for t, k, _ in late_receiver.got if t <= kill_at}
    lines = [f"alerts: {len(teams)} anomalies, 4 receivers each; alerter A SIGKILLed mid-send, then 2 alerters; "
             f"Redis SIGSTOPped 10 s"]
    for r in ("fast", "slow", "failing", "mail"):
        got = Counter(received[r])
        doubles = sum(c - 1 for c in got.values())
        lines.append(f"{r:8s} created {created[r]:3d} delivered {delivered[r]:3d} received {len(received[r]):3d} "
                     f"distinct {len(got):3d} doubled {doubles}")
    lines.append(f"failing receiver answered 500 {failing.refused} times (first 15 s)")
    by = Counter(a.by for n in notes for a in n.attempts)
    lines.append(f"attempts by alerter: {sorted(by.values(), reverse=True)} (A, killed, made "
                 f"{sum(1 for n in notes for a in n.attempts if a.by == _consumer(first.pid))})")
    report = "\n".join(lines)
    print(report)
    (tmp_path / "figures.txt").write_text(report)
    assert done, report
    for r in ("fast", "slow", "failing", "mail"):
        assert created[r] == len(teams) and delivered[r] == len(teams), report
        assert set(received[r]) == set(teams), f"{r}: lost {set(teams) - set(received[r])}"
    # doubles only from the at-least-once window of the killed alerter, and they carry the same key
    for r in ("fast", "slow"):
        repeated = [k for k, c in Counter(keys_of[r]).items() if c > 1]
        assert all(k for k in repeated)
        assert len(set(keys_of[r])) == len(teams), report
    assert set(k for k, c in Counter(keys_of["slow"]).items() if c > 1) <= early_slow | _killed_window(late_receiver,
                                                                                                      kill_at)
    assert sum(c - 1 for c in Counter(received["failing"]).values()) == 0, report


def _consumer(pid: int) -> str:
    import socket

    return f"{socket.gethostname()}-{pid}"


def _killed_window(late_receiver, kill_at: float) -> set[str]:
    return {k for t, k, _ in late_receiver.got if t <= kill_at + 1.0}


def _all_delivered(redis, expected: int) -> bool:
    notes = latest_notifications(redis, 1000)
    return len(notes) >= expected and all(n.status == "delivered" for n in notes)


def _until(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if predicate():
                return True
        time.sleep(0.25)
    return False


class _FailingFor:
    """An HTTP receiver that answers 500 for its first ``seconds``, then 200 (recording what it took)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.refused = 0

    @contextlib.contextmanager
    def serve(self):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        from tests.conftest import Receiver, free_port

        rec = Receiver(url=f"127.0.0.1:{free_port()}")
        started = time.monotonic()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                ok = time.monotonic() - started > outer.seconds
                with rec.lock:
                    if ok:
                        rec.requests.append((self.path, dict(self.headers), body))
                    else:
                        outer.refused += 1
                self.send_response(200 if ok else 500)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: object) -> None:
                pass

        host, port = rec.url.split(":")
        server = ThreadingHTTPServer((host, int(port)), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        try:
            yield rec
        finally:
            server.shutdown()
            server.server_close()


def test_a_result_written_while_redis_is_stopped_is_stored_once_not_sent_again(own_redis, late_receiver):
    """Redis stops (SIGSTOP, 10 s: longer than the client's timeout and its retries) while a send is out: the
    result's transaction, already written to the socket, runs when Redis continues, within the send's lease,
    so the message is recorded once and not sent again."""
    from alerts.runner import Alerter
    from tests.alerts.factories import push, settings

    url, admin = own_redis
    redis_pid = int(admin.info("server")["process_id"])
    late_receiver.delays_s = [1.0]
    s = settings(receivers=[{"name": "slow", "urls": [f"json://{late_receiver.url}/hook"], "language": "en"}],
                 route={"receiver": "slow"}, timeout_s=3, send_lease_s=20, heartbeat={"enabled": False})
    client = connect(url, socket_timeout=1)
    alerter = Alerter(s, client, consumer="t", workers=0)

    def stall() -> None:
        _until(lambda: len(late_receiver.got) >= 1, 20)
        os.kill(redis_pid, signal.SIGSTOP)
        time.sleep(10)
        os.kill(redis_pid, signal.SIGCONT)

    staller = threading.Thread(target=stall)
    staller.start()
    push(admin, anomaly(at=datetime.now(UTC)))
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            alerter.step()
        time.sleep(0.2)
    staller.join()
    alerter.close()
    [n] = latest_notifications(admin, 10)
    assert n.status == "delivered" and [a.status for a in n.attempts] == ["ok"]
    assert len(late_receiver.got) == 1
