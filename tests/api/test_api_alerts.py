"""Alerts, acknowledgement (API and signed link), silences, routing and deliveries over the real engine."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alerts.acklink import ack_url
from alerts.engine import Engine
from alerts.runner import Alerter
from sqm.clock import ManualClock
from sqm.config import Settings
from sqm.keys import ANOMALIES
from sqm.models import Anomaly, encode
from tests.api.conftest import KEYS, auth

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def anomaly(kpi: str = "timeout_rate", team: str = "billing", severity: str = "warning", **kw: Any) -> Anomaly:
    return Anomaly(kpi=kpi, window="60m", team=team, channel="*", region="*", start=NOW - timedelta(hours=1),
                   end=NOW, value=kw.pop("value", 0.31), expected=kw.pop("expected", 0.2), severity=severity, detector="swing",
                   incident_start=NOW - timedelta(minutes=3), reason_en="Timeout rate up", reason_zh="超时率上升", **kw)


@pytest.fixture
def fired(redis, make_settings) -> list[Anomaly]:
    """Two open alerts, made by the real alert engine."""
    settings = make_settings(keys=True)
    engine = Engine(settings, redis, clock=ManualClock(NOW), workers=0)
    made = [anomaly(), anomaly("frt_avg_s", team="tech", severity="critical", value=190.0)]
    engine.handle(made)
    engine.close()
    return made


def test_list_and_get_alerts(secured, fired):
    r = secured.get("/v1/alerts", headers=auth("viewer"))
    assert r.status_code == 200
    alerts = r.json()
    assert {a["labels"]["team"] for a in alerts} == {"billing", "tech"}
    assert {a["state"] for a in alerts} <= {"pending", "firing"}
    fp = fired[0].fingerprint
    one = secured.get(f"/v1/alerts/{fp}", headers=auth("viewer")).json()
    assert one["fingerprint"] == fp and one["anomaly"]["value"] == 0.31 and one["anomaly"]["expected"] == 0.2
    assert secured.get("/v1/alerts/nope", headers=auth("viewer")).status_code == 404
    assert secured.get("/v1/alerts").status_code == 401  # not part of the public wallboard
    assert secured.get("/v1/alerts", headers=auth("ingest")).status_code == 403


def test_the_wallboard_view_is_public_and_reduced(secured, fired):
    r = secured.get("/v1/alerts/wallboard")
    assert r.status_code == 200
    rows = r.json()
    assert [a["team"] for a in rows] == ["tech", "billing"]  # critical first
    assert rows[0]["kpi"] == "frt_avg_s" and rows[0]["value"] == 190.0 and rows[1]["reason_zh"] == "超时率上升"
    assert "timeline" not in rows[0] and "acked_by" not in rows[0]


def test_acknowledge_needs_a_supervisor_and_records_who(secured, fired):
    fp = fired[1].fingerprint
    assert secured.post(f"/v1/alerts/{fp}/ack", headers=auth("viewer")).status_code == 403
    r = secured.post(f"/v1/alerts/{fp}/ack", json={"comment": "on it"}, headers=auth("supervisor"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["state"] == "acknowledged" and body["acked_by"] == "supervisor-test"
    assert any(e["state"] == "acknowledged" and e["by"] == "supervisor-test" for e in body["timeline"])
    assert secured.post("/v1/alerts/nope/ack", headers=auth("admin")).status_code == 404


def test_the_signed_link_confirms_before_it_acknowledges(secured, fired, make_settings):
    fp = fired[0].fingerprint
    url = ack_url(make_settings(keys=True), fp, datetime.now(UTC))
    path = url.split("8000", 1)[1]
    page = secured.get(path)  # opening (or a chat app's preview) acknowledges nothing
    assert page.status_code == 200 and "<form method=\"post\"" in page.text and "超时率" in page.text
    assert secured.get(f"/v1/alerts/{fp}", headers=auth("viewer")).json()["state"] != "acknowledged"
    done = secured.post(path)
    assert done.status_code == 200 and "Acknowledged" in done.text
    assert secured.get(f"/v1/alerts/{fp}", headers=auth("viewer")).json()["state"] == "acknowledged"
    forged = re.sub(r"\.[^.]+$", ".AAAAAAAAAAAAAAAAAAAAAAAA", path)
    assert secured.post(forged).status_code == 403
    assert secured.get(forged).status_code == 403


def test_silences_create_list_expire(secured, fired):
    body = {"matchers": ['team="billing"', 'kpi="timeout_rate"'], "duration_s": 3600, "comment": "planned outage"}
    assert secured.post("/v1/silences", json=body, headers=auth("viewer")).status_code == 403
    r = secured.post("/v1/silences", json=body, headers=auth("supervisor"))
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["created_by"] == "supervisor-test" and made["matchers"] == body["matchers"]
    listed = secured.get("/v1/silences", headers=auth("viewer")).json()
    assert [s["id"] for s in listed] == [made["id"]]
    gone = secured.delete(f"/v1/silences/{made['id']}", headers=auth("supervisor"))
    assert gone.status_code == 200 and gone.json()["expired_at"] is not None
    assert secured.get("/v1/silences", headers=auth("viewer")).json() == []
    assert len(secured.get("/v1/silences?include_expired=true", headers=auth("viewer")).json()) == 1
    assert secured.delete("/v1/silences/nope", headers=auth("supervisor")).status_code == 404


@pytest.mark.parametrize(("body", "field"), [
    ({"matchers": [], "duration_s": 60}, "matchers"),
    ({"matchers": ['team="a"']}, "ends_at"),
    ({"matchers": ['team="a"'], "duration_s": 60, "ends_at": "2026-03-02T10:00:00+08:00"}, "ends_at"),
    ({"matchers": ['team="a"'], "ends_at": "2026-03-02T10:00:00"}, "ends_at"),
    ({"matchers": ["team is billing"], "duration_s": 60}, "matchers"),
    ({"matchers": ["kpi=~(?!csat).*"], "duration_s": 60}, "matchers"),  # RE2 has no look-arounds
    ({"matchers": ['team="a"'], "duration_s": 60, "colour": "red"}, "colour"),
])
def test_a_bad_silence_is_refused_naming_the_field(secured, body, field):
    r = secured.post("/v1/silences", json=body, headers=auth("supervisor"))
    assert r.status_code == 422, r.text
    detail = r.json()["detail"][0]
    assert field in [str(x) for x in detail["loc"]] or detail.get("field", "").startswith(field), detail


def test_route_dry_run_and_masked_receivers(make_client):
    token = "0123456789abcdef-very-secret-bot-key"
    s = {"receivers": [{"name": "console"}, {"name": "billing-wecom", "urls": [f"json://hooks.example.com/{token}"]}],
         "route": {"receiver": "console", "routes": [{"receiver": "billing-wecom", "match": {"team": "billing"}}]}}
    settings = Settings(alerts=s, api={"keys": [{"key": KEYS["admin"], "role": "admin"},
                                                {"key": KEYS["supervisor"], "role": "supervisor"}]})
    c = make_client(settings)
    r = c.post("/v1/alerts/route-test", json={"labels": {"team": "billing", "kpi": "csat"}}, headers=auth("supervisor"))
    assert r.status_code == 200, r.text
    assert [m["receiver"] for m in r.json()] == ["billing-wecom"]
    assert [m["receiver"] for m in c.post("/v1/alerts/route-test", json={"labels": {"team": "tech"}},
                                          headers=auth("supervisor")).json()] == ["console"]
    assert c.get("/v1/alerts/receivers", headers=auth("supervisor")).status_code == 403
    rec = c.get("/v1/alerts/receivers", headers=auth("admin"))
    assert rec.status_code == 200
    assert [x["name"] for x in rec.json()] == ["console", "billing-wecom"]
    assert token not in rec.text and token[:10] not in rec.text


def test_notifications_and_deliveries_are_listed_with_channels_masked(make_client, redis, http_receiver):
    token = "hook-token-0123456789abcdef"
    settings = Settings(
        alerts={"receivers": [{"name": "ops", "urls": [f"json://{http_receiver.url}/{token}"], "language": "en"}],
                "route": {"receiver": "ops"}, "group_wait_s": 0},
        api={"keys": [{"key": KEYS["supervisor"], "role": "supervisor", "name": "sup"},
                      {"key": KEYS["viewer"], "role": "viewer"}]})
    alerter = Alerter(settings, redis, clock=ManualClock(NOW), consumer="api-test", workers=0)
    redis.xadd(ANOMALIES, {"a": encode(anomaly(severity="critical"))})
    alerter.step()
    assert len(http_receiver.wait_for(1, timeout=10)) == 1  # really delivered
    alerter.close()
    c = make_client(settings)
    r = c.get("/v1/notifications", headers=auth("supervisor"))
    assert r.status_code == 200
    [n] = r.json()
    assert n["receiver"] == "ops" and n["status"] == "delivered"
    assert n["channel"] == "json://127.0.0.1:" + http_receiver.url.split(":")[1] + "/…"
    d = c.get("/v1/deliveries", headers=auth("supervisor"))
    assert d.status_code == 200 and len(d.json()) >= 1
    assert c.get(f"/v1/notifications/{n['id']}", headers=auth("supervisor")).json()["id"] == n["id"]
    for text in (r.text, d.text, c.get(f"/v1/notifications/{n['id']}", headers=auth("supervisor")).text):
        assert token not in text and token[:10] not in text
    assert c.get("/v1/notifications", headers=auth("viewer")).status_code == 403
    assert c.get("/v1/notifications/nope", headers=auth("supervisor")).status_code == 404
