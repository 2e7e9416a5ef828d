"""Regular expressions in silences and routes cannot hang the alerter (RE2, linear time)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from alerts import service
from sqm.matchers import MAX_PATTERN, parse
from tests.alerts.factories import anomaly, json_url, push, settings
from tests.alerts.processes import alerter_process, stop

EVIL = "team=~(a+)+b"
"""Catastrophic backtracking for a backtracking engine: 2^n paths on n ``a``s that do not end in ``b``."""
VICTIM = "a" * 40 + "c"


def test_a_catastrophic_pattern_matches_in_linear_time():
    started = time.perf_counter()
    hit = parse(EVIL).matches({"team": VICTIM})
    assert hit is False
    assert time.perf_counter() - started < 0.1
    assert parse(EVIL).matches({"team": "aaab"}) is True


@pytest.mark.parametrize(("text", "why"), [
    ("kpi=~(?!csat).*", "invalid perl operator"),   # look-ahead
    ("team=~(a)\\1", "invalid escape sequence"),    # back-reference
    ("team=~(", "missing )"),
    ("team=~" + "a" * (MAX_PATTERN + 1), f"longer than {MAX_PATTERN}"),
])
def test_a_pattern_re2_cannot_run_is_refused_naming_the_matcher(text, why):
    with pytest.raises(ValueError, match="bad regular expression") as err:
        parse(text)
    assert repr(text)[:40] in str(err.value) and why in str(err.value)


def test_a_catastrophic_silence_does_not_stop_a_real_alerter(redis, redis_url, http_receiver):
    """The silence matches nothing here: the alert is delivered, and the alerter still stops on SIGTERM."""
    now = datetime.now(UTC)
    service.create_silence(redis, [EVIL], now - timedelta(minutes=1), now + timedelta(hours=1), "wang")
    s = settings(receivers=[{"name": "ops", "urls": [json_url(http_receiver)], "language": "en"}],
                 route={"receiver": "ops"})
    with alerter_process(s, redis_url) as proc:
        push(redis, anomaly(team=VICTIM, at=now))
        got = http_receiver.wait_for(1, timeout=30)
        assert len(got) == 1 and VICTIM.encode() in got[0]
        started = time.monotonic()
        assert stop(proc, timeout=15) == 0
        assert time.monotonic() - started < 15


def test_a_stored_silence_re2_refuses_is_ignored_not_fatal(redis, http_receiver):
    """A silence written before RE2 (a look-ahead ``re`` accepted) silences nothing; alerting goes on."""
    from alerts.runner import Alerter
    from alerts.silences import new_silence
    from sqm import keys
    from sqm.clock import ManualClock
    from sqm.models import encode
    from tests.alerts.factories import T0

    old = new_silence(["team=billing"], T0 - timedelta(hours=1), T0 + timedelta(hours=1), "wang", now=T0)
    old.matchers = ["team=~(?!tech).*"]
    redis.hset(keys.SILENCES, old.id, encode(old))
    s = settings(receivers=[{"name": "ops", "urls": [json_url(http_receiver)], "language": "en"}],
                 route={"receiver": "ops"})
    alerter = Alerter(s, redis, clock=ManualClock(T0), consumer="t", workers=0)
    push(redis, anomaly(at=T0))
    alerter.step()
    alerter.close()
    assert len(http_receiver.bodies) == 1


@pytest.mark.parametrize("where", ["route", "inhibit"])
def test_the_settings_refuse_what_re2_cannot_run_naming_the_key(where):
    from pydantic import ValidationError

    from sqm.config import Settings

    bad = "kpi=~(?!csat).*"
    alerts = ({"route": {"receiver": "console", "routes": [{"receiver": "console", "matchers": [bad]}]}}
              if where == "route" else {"inhibit_rules": [{"source": [bad], "target": ["team=a"]}]})
    with pytest.raises(ValidationError) as err:
        Settings(alerts=alerts)
    key = "alerts.route.routes.0.matchers" if where == "route" else "alerts.inhibit_rules.0.source"
    assert key in str(err.value) and "invalid perl operator" in str(err.value)
