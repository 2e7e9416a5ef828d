"""``alerts.timeout_s`` bounds every channel's send, Apprise's included; a slow receiver is sent to once per try."""

from __future__ import annotations

import time

import pytest

from alerts.outbox import latest_notifications
from alerts.runner import Alerter
from tests.alerts.factories import anomaly, push, settings

APPRISE_JSON = "json://{}/hook?-via=apprise"  # a query parameter: Apprise's json:// plugin posts it
PLAIN_JSON = "json://{}/hook"  # sqm's own webhook notifier


def _run_until_delivered(s, redis, *, within_s: float):
    alerter = Alerter(s, redis, consumer="t", workers=0)
    push(redis, anomaly())
    deadline = time.monotonic() + within_s
    try:
        while time.monotonic() < deadline:
            alerter.step()
            [n] = latest_notifications(redis, 10) or [None]
            if n is not None and n.status == "delivered":
                return n
            time.sleep(0.05)
    finally:
        alerter.close()
    return latest_notifications(redis, 10)[0]


def _settings(url: str, timeout_s: float):
    return settings(receivers=[{"name": "ops", "urls": [url], "language": "en"}], route={"receiver": "ops"},
                    timeout_s=timeout_s, retry_base_s=0.5, retry_max_s=2, send_lease_s=30)


def test_apprise_waits_for_a_receiver_slower_than_its_own_default(redis, late_receiver):
    """Apprise's sockets give up after 4 s by default; with timeout_s = 8 a 5 s answer is taken, once."""
    late_receiver.delays_s = [5.0]
    n = _run_until_delivered(_settings(APPRISE_JSON.format(late_receiver.url), 8.0), redis, within_s=25)
    assert n.status == "delivered"
    assert [a.status for a in n.attempts] == ["ok"]
    assert len(late_receiver.got) == 1 and late_receiver.answered == 1
    assert 4500 < n.attempts[0].latency_ms < 8000


@pytest.mark.parametrize("form", [APPRISE_JSON, PLAIN_JSON])
def test_a_receiver_slower_than_timeout_s_is_retried_with_back_off_one_try_at_a_time(redis, late_receiver, form):
    """Two answers later than timeout_s (1 s): two failed tries of about 1 s each, then the third is taken.
    Tries never overlap, they back off, and every one carries the same Idempotency-Key (sqm's notifier),
    so a receiver that keeps keys records one delivery."""
    late_receiver.delays_s = [2.5, 2.5, 0.0]
    n = _run_until_delivered(_settings(form.format(late_receiver.url), 1.0), redis, within_s=30)
    assert [a.status for a in n.attempts] == ["failed", "failed", "ok"], n.attempts
    assert all(800 < a.latency_ms < 2000 for a in n.attempts[:2]), [a.latency_ms for a in n.attempts]
    arrivals = [t for t, _, _ in late_receiver.got]
    assert len(arrivals) == 3
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:], strict=False)]
    assert gaps[0] >= 1.0 + 0.5 - 0.1 and gaps[1] >= 1.0 + 1.0 - 0.1  # timeout + back-off 0.5 s, then 1 s
    if form == PLAIN_JSON:
        assert set(late_receiver.keys()) == {n.id}
