"""alerts.service: what the API calls (ack, signed ack links, silences, dry-run, delivery status)."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest

from alerts import service
from alerts.runner import Alerter
from sqm.clock import ManualClock
from tests.alerts.factories import T0, anomaly, json_url, push, settings


@pytest.fixture
def fired(redis, http_receiver):
    s = settings(receivers=[{"name": "ops", "urls": [json_url(http_receiver) + "?token=hunter2"], "language": "en"}],
                 route={"receiver": "ops"}, signing_secret="a-long-enough-signing-secret")
    clock = ManualClock(T0)
    al = Alerter(s, redis, clock=clock, consumer="t", workers=0)
    push(redis, anomaly(), anomaly(team="tech"))
    al.step()
    yield s, clock, al
    al.close()


def test_list_and_get(redis, fired):
    alerts = service.list_alerts(redis)
    assert sorted(a.labels["team"] for a in alerts) == ["billing", "tech"]
    assert service.get_alert(redis, anomaly().fingerprint).state == "firing"
    assert service.list_alerts(redis, state="acknowledged") == []
    with pytest.raises(service.UnknownAlert, match="not found"):
        service.get_alert(redis, "nope")


def test_ack_link_in_the_message_acknowledges_once_and_expires(redis, fired, http_receiver):
    s, clock, _ = fired
    text = "".join(json.loads(b)["message"] for b in http_receiver.wait_for(2, timeout=5))
    links = re.findall(r"http://127\.0\.0\.1:8000/ack/(\S+)", text)
    assert len(links) == 2
    token = links[0]
    alert = service.ack_with_token(redis, s, token, clock=clock)
    assert alert.state == "acknowledged" and alert.acked_by == "ack link"
    assert alert.timeline[-1].state == "acknowledged"
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    with pytest.raises(service.InvalidToken, match="bad signature"):
        service.ack_with_token(redis, s, tampered, clock=clock)
    clock.advance(hours=25)
    with pytest.raises(service.InvalidToken, match="expired"):
        service.ack_with_token(redis, s, links[1], clock=clock)
    assert urlsplit("http://x/ack/" + token).path.startswith("/ack/")


def test_acknowledge_records_who(redis, fired):
    s, clock, _ = fired
    a = service.acknowledge(redis, s, anomaly(team="tech").fingerprint, "li", comment="calling the vendor",
                            clock=clock)
    assert (a.state, a.acked_by, a.acked_at, a.ack_expires_at) == ("acknowledged", "li", T0, T0 + timedelta(hours=1))
    assert (a.timeline[-1].by, a.timeline[-1].why) == ("li", "calling the vendor")
    assert service.get_alert(redis, a.fingerprint).acked_by == "li"


def test_silences_are_validated(redis):
    with pytest.raises(ValueError, match="matchers: a silence needs at least one matcher"):
        service.create_silence(redis, [], None, T0 + timedelta(hours=1), "x")
    with pytest.raises(ValueError, match="ends_at"):
        service.create_silence(redis, ["team=billing"], T0, T0 - timedelta(hours=1), "x")
    with pytest.raises(ValueError, match="not of the form"):
        service.create_silence(redis, ["team billing"], T0, T0 + timedelta(hours=1), "x")
    clock = ManualClock(T0)
    s = service.create_silence(redis, ["team=billing"], T0, T0 + timedelta(hours=1), "x", clock=clock)
    assert [x.id for x in service.list_silences(redis, clock=clock)] == [s.id]
    assert service.expire_silence(redis, s.id, clock=clock).expired_at == T0
    assert service.list_silences(redis, clock=clock) == []


def test_delivery_status_is_masked(redis, fired, http_receiver):
    http_receiver.wait_for(2, timeout=5)
    notes = service.list_notifications(redis)
    assert len(notes) == 2 and {n["status"] for n in notes} == {"delivered"}
    assert "hunter2" not in json.dumps(notes) and "ctx" not in notes[0]
    assert notes[0]["attempts"][0]["latency_ms"] > 0
    assert service.get_notification(redis, notes[0]["id"])["id"] == notes[0]["id"]
    rows = service.delivery_attempts(redis)
    assert len(rows) == 2 and {r["status"] for r in rows} == {"ok"} and "hunter2" not in json.dumps(rows)
    recs = service.receivers(fired[0])
    assert recs[0]["name"] == "ops" and "hunter2" not in json.dumps(recs)


def test_route_dry_run(fired):
    s = fired[0]
    out = service.route_dry_run(s, {"team": "billing", "kpi": "csat"})
    assert [r["receiver"] for r in out] == ["ops"]


def test_filters_and_notifications_of_one_alert(redis, fired, http_receiver):
    http_receiver.wait_for(2, timeout=5)
    assert [a.labels["team"] for a in service.list_alerts(redis, matchers=["team=tech"])] == ["tech"]
    assert len(service.list_alerts(redis, matchers=["team=~b.*|t.*", "severity!=critical"])) == 2
    with pytest.raises(ValueError, match="not of the form"):
        service.list_alerts(redis, matchers=["team"])
    (note,) = service.notifications_of(redis, anomaly().fingerprint)
    assert note["status"] == "delivered" and note["fingerprints"] == [anomaly().fingerprint]
