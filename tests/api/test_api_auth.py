"""API keys and roles, secrets never leaving the process."""

from __future__ import annotations

import hmac
import logging
import time

import pytest

from api.security import KeyRing
from sqm.config import ApiKey
from tests.api.conftest import KEYS, auth, event

READ_PUBLIC = ["/v1/kpis", "/v1/kpis/history", "/v1/config/public", "/"]


@pytest.mark.parametrize("how", ["bearer", "x-api-key"])
def test_ingest_needs_an_ingest_or_admin_key(secured, how):
    assert secured.post("/v1/events", json=event()).status_code == 401
    assert secured.post("/v1/events", json=event(), headers={"Authorization": "Bearer wrong"}).status_code == 401
    for role in ("viewer", "supervisor"):
        r = secured.post("/v1/events", json=event(), headers=auth(role, how))
        assert r.status_code == 403, role
        assert "needs 'ingest'" in r.json()["detail"]
    for role in ("ingest", "admin"):
        assert secured.post("/v1/events", json=event(), headers=auth(role, how)).status_code == 202, role


def test_the_ingest_key_reads_nothing(secured):
    for path in ("/v1/kpis", "/v1/config/public", "/metrics"):
        assert secured.get(path, headers=auth("ingest")).status_code == 403, path


def test_public_wallboard_reads_without_a_key_but_a_bad_key_is_still_refused(secured):
    for path in READ_PUBLIC:
        assert secured.get(path).status_code == 200, path
    for path in READ_PUBLIC[:3]:
        r = secured.get(path, headers={"X-API-Key": KEYS["viewer"] + "x"})
        assert r.status_code == 401, path
        assert r.headers["www-authenticate"] == "Bearer"
    assert secured.get("/metrics").status_code == 401
    assert secured.get("/metrics", headers=auth("viewer")).status_code == 200


def test_without_public_wallboard_reading_needs_a_viewer_key(make_client):
    c = make_client(keys=True, public_wallboard=False)
    for path in READ_PUBLIC[:3]:
        assert c.get(path).status_code == 401, path
        for role in ("viewer", "supervisor", "admin"):
            assert c.get(path, headers=auth(role)).status_code == 200, (path, role)
    assert c.get("/").status_code == 200  # the page itself holds no data; it asks for a key
    assert c.get("/healthz").status_code == 200


def test_no_keys_in_development_is_open_and_warned_once(make_client, caplog):
    with caplog.at_level(logging.WARNING, logger="sqm.api"):
        c = make_client()
        assert c.post("/v1/events", json=event()).status_code == 202
        assert c.get("/metrics").status_code == 200
    warnings = [r for r in caplog.records if "no API keys" in r.getMessage()]
    assert len(warnings) == 1


def test_auth_failures_are_counted(secured):
    secured.get("/v1/kpis", headers={"Authorization": "Bearer nope"})
    secured.post("/v1/events", json=event(), headers=auth("viewer"))
    text = secured.get("/metrics", headers=auth("admin")).text
    assert 'sqm_api_auth_failures_total{reason="bad_key"} 1.0' in text
    assert 'sqm_api_auth_failures_total{reason="role"} 1.0' in text


def test_keys_are_compared_in_constant_time_over_all_keys():
    calls: list[tuple[bytes, bytes]] = []

    def counting(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return hmac.compare_digest(a, b)

    keys = [ApiKey(key=f"key-number-{i}-0123456789abcdef", role="viewer", name=f"k{i}") for i in range(50)]
    ring = KeyRing(keys, compare=counting)
    for presented, name in [("key-number-0-0123456789abcdef", "k0"), ("key-number-49-0123456789abcdef", "k49"),
                            ("key-number-49-0123456789abcdeX", None), ("x", None), ("y" * 500, None)]:
        calls.clear()
        found = ring.match(presented)
        assert (found.name if found else None) == name
        # no early exit: every key is compared, always on digests of one length
        assert len(calls) == 50
        assert {len(a) for a, _ in calls} == {len(b) for _, b in calls} == {32}

    real = KeyRing(keys)

    def cost(presented: str) -> float:
        t = time.perf_counter()
        for _ in range(200):
            real.match(presented)
        return time.perf_counter() - t

    rounds = {"first": [], "last": [], "miss": []}
    for _ in range(15):  # interleaved, best of 15: robust against a busy machine
        for label, presented in (("first", "key-number-0-0123456789abcdef"), ("last", "key-number-49-0123456789abcdef"),
                                 ("miss", "z")):
            rounds[label].append(cost(presented))
    first, last, miss = (min(rounds[k]) for k in ("first", "last", "miss"))
    assert 0.33 < first / last < 3.0
    assert 0.33 < first / miss < 3.0


def test_secrets_never_appear_in_any_response(make_client, caplog):
    settings_kw = {"keys": True}
    c = make_client(**settings_kw)
    secrets = list(KEYS.values())
    caplog.set_level(logging.DEBUG)
    responses = []
    for role in (None, "viewer", "admin"):
        h = auth(role) if role else {}
        for path in ("/", "/openapi.json", "/docs", "/v1/config/public", "/v1/kpis", "/v1/kpis/history",
                     "/healthz", "/readyz", "/metrics", "/static/wallboard.js", "/nope"):
            responses.append(c.get(path, headers=h))
        responses.append(c.post("/v1/events", json={"bad": 1}, headers=h))
    responses.append(c.get("/v1/kpis", headers={"Authorization": f"Bearer {KEYS['admin']}x"}))
    assert any(r.status_code == 200 for r in responses)
    for r in responses:
        blob = r.text + " ".join(f"{k}: {v}" for k, v in r.headers.items())
        for s in secrets:
            assert s not in blob, r.url
            assert s[:12] not in blob, r.url
    for rec in caplog.records:
        for s in secrets:
            assert s not in rec.getMessage()


def test_security_headers(client):
    r = client.get("/")
    assert r.headers["content-security-policy"].startswith("default-src 'self'")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"


def test_rate_limit_per_caller_with_retry_after(make_client):
    c = make_client(keys=True, rate_limit_per_s=0.5, rate_limit_burst=3)
    codes = [c.get("/v1/kpis", headers=auth("viewer")).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    r = c.get("/v1/kpis", headers=auth("viewer"))
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert c.get("/v1/kpis", headers=auth("supervisor")).status_code == 200  # another caller, another bucket
    assert c.get("/healthz").status_code == 200  # health checks are never limited
    assert "sqm_api_rate_limited_total 2.0" in c.get("/metrics", headers=auth("admin")).text


def test_no_kind_of_secret_leaves_the_api(make_client, caplog):
    from sqm.config import Settings

    secrets = {
        "webhook": "webhook-signing-secret-93a1f",
        "ack": "ack-link-signing-secret-77b2",
        "bot": "0123abcd-bot-token-in-the-url-55",
        "influx": "influx-token-secret-4c4c4c4c",
        **{f"key-{role}": k for role, k in KEYS.items()},
    }
    settings = Settings(
        api={"keys": [{"key": k, "role": r, "name": f"{r}-test"} for r, k in KEYS.items()],
             "webhooks": [{"name": "cw", "kind": "chatwoot", "secret": secrets["webhook"], "default_team": "billing"}]},
        alerts={"signing_secret": secrets["ack"],
                "receivers": [{"name": "console"}, {"name": "ops", "urls": [f"json://hooks.example.com/{secrets['bot']}"]}],
                "route": {"receiver": "ops"}},
        influx={"url": "http://influx.example:8086", "token": secrets["influx"]},
    )
    c = make_client(settings)
    caplog.set_level(logging.DEBUG)
    admin = auth("admin")
    texts = []
    for path in ("/", "/openapi.json", "/v1/config/public", "/v1/kpis", "/v1/alerts", "/v1/alerts/receivers",
                 "/v1/silences", "/v1/notifications", "/v1/deliveries", "/v1/status", "/v1/deadletters", "/metrics",
                 "/readyz"):
        r = c.get(path, headers=admin)
        assert r.status_code == 200, path
        texts.append(r.text + str(dict(r.headers)))
    texts.append(c.post("/v1/alerts/route-test", json={"labels": {"team": "billing"}}, headers=admin).text)
    texts.append(c.post("/v1/webhooks/cw", json={"event": "conversation_created"}).text)  # unsigned: refused
    # INFO and up: Apprise itself logs a loaded URL in full at DEBUG (alerts/ area, reported)
    texts.append("\n".join(rec.getMessage() for rec in caplog.records if rec.levelno >= logging.INFO))
    for name, secret in secrets.items():
        for text in texts:
            assert secret not in text, name
            assert secret[:12] not in text, name


def test_whoami(secured, client):
    assert secured.get("/v1/config/whoami", headers=auth("supervisor")).json() == {
        "name": "supervisor-test", "role": "supervisor", "authenticated": True}
    assert secured.get("/v1/config/whoami", headers=auth("ingest")).json()["role"] == "ingest"
    assert secured.get("/v1/config/whoami").json() == {"name": "anonymous", "role": None, "authenticated": False}
    assert secured.get("/v1/config/whoami", headers={"X-API-Key": "nope"}).status_code == 401
    assert client.get("/v1/config/whoami").json()["role"] == "admin"  # no keys: open
