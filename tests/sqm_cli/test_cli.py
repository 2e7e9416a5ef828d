"""The sqm command: help for newcomers, check-config names bad keys."""

import orjson
import pytest
from typer.testing import CliRunner

from sqm_cli.app import app

runner = CliRunner()


def test_every_command_has_useful_help():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("demo", "flow", "alerter", "api", "simulate", "replay", "check-config", "notify-test"):
        assert command in result.output
        sub = runner.invoke(app, [command, "--help"])
        assert sub.exit_code == 0, sub.output
        assert "Usage" in sub.output


def test_check_config_accepts_the_shipped_example(repo_root, monkeypatch):
    monkeypatch.delenv("SQM_CONFIG", raising=False)
    result = runner.invoke(app, ["check-config", str(repo_root / "sqm.example.yaml")])
    assert result.exit_code == 0, result.output
    assert "ok" in result.output


def test_check_config_names_the_bad_key(tmp_path):
    bad = tmp_path / "sqm.yaml"
    bad.write_text("targets:\n  fcr_rate: lots\n")
    result = runner.invoke(app, ["check-config", str(bad)])
    assert result.exit_code == 2
    assert "targets.fcr_rate" in result.output


ADMIN = "{key: a-long-enough-admin-key-0123, role: admin, name: ops}"
PRODUCTION_REFUSALS = [
    ("no API key", "environment: production\n", "api.keys:"),
    ("short API key", "environment: production\napi: {keys: [{key: short, role: admin, name: ops}]}\n",
     "api.keys[ops].key:"),
    ("unsigned webhook", f"environment: production\napi:\n  keys: [{ADMIN}]\n  webhooks: [{{name: zd, kind: zendesk}}]\n",
     "api.webhooks[zd].secret:"),
]


@pytest.mark.parametrize(("case", "text", "key"), PRODUCTION_REFUSALS, ids=[c[0] for c in PRODUCTION_REFUSALS])
def test_check_config_refuses_what_production_refuses(tmp_path, case, text, key):
    path = tmp_path / "sqm.yaml"
    path.write_text(text)
    for command in (["check-config", str(path)], ["api", "--config", str(path)]):
        result = runner.invoke(app, command)
        assert result.exit_code == 2, (command, result.output)
        assert key in " ".join(result.output.split()), (command, result.output)


def test_a_production_file_check_config_passes_starts_the_api(tmp_path, redis):
    from fastapi.testclient import TestClient

    from api.app import create_app
    from sqm.config import load_settings

    path = tmp_path / "sqm.yaml"
    path.write_text(f"environment: production\napi:\n  keys: [{ADMIN}]\n"
                    "  webhooks: [{name: zd, kind: zendesk, secret: zendesk-signing-secret-4567}]\n")
    result = runner.invoke(app, ["check-config", str(path)])
    assert result.exit_code == 0, result.output
    with TestClient(create_app(load_settings(path), redis=redis)) as client:
        whoami = client.get("/v1/config/whoami", headers={"X-API-Key": "a-long-enough-admin-key-0123"})
        assert whoami.status_code == 200 and whoami.json()["role"] == "admin"
        assert client.post("/v1/webhooks/zd", json={"event": "ticket.created"}).status_code == 401  # signed only


def test_notify_test_delivers_through_apprise_and_reports(tmp_path, http_receiver):
    config = tmp_path / "sqm.yaml"
    config.write_text(
        "alerts:\n"
        f"  receivers: [{{name: ops, urls: ['json://{http_receiver.url}/hook?token=s3cret'], language: en}}]\n"
        "  route: {receiver: ops}\n"
    )
    result = runner.invoke(app, ["notify-test", "--receiver", "ops", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "ok" in result.output
    assert "s3cret" not in result.output
    assert len(http_receiver.wait_for(1, timeout=10)) == 1


def test_notify_test_fails_when_the_receiver_is_down(tmp_path, http_receiver):
    http_receiver.status = 500
    config = tmp_path / "sqm.yaml"
    config.write_text(
        f"alerts:\n  receivers: [{{name: ops, urls: ['json://{http_receiver.url}/hook']}}]\n  route: {{receiver: ops}}\n"
    )
    result = runner.invoke(app, ["notify-test", "-r", "ops", "-c", str(config)])
    assert result.exit_code == 1
    unknown = runner.invoke(app, ["notify-test", "-r", "nobody", "-c", str(config)])
    assert unknown.exit_code == 2
    assert "nobody" in unknown.output


def test_replay_writes_good_lines_and_dead_letters_bad_ones(tmp_path, redis, redis_url, monkeypatch):
    from sqm.keys import DLQ, events_stream
    from sqm.models import decode_events

    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("SQM_STREAMS__TS_MAX_AGE_S", "0")  # the file is dated 2026-03-02: no lower bound
    good = [
        {"event_id": f"e{i}", "type": "contact.created", "ts": "2026-03-02T09:00:00+08:00",
         "contact_id": f"c{i}", "team": team, "channel": "chat"}
        for i, team in enumerate(["billing", "tech", "sales"] * 3)
    ]
    lines = [orjson.dumps(e) for e in good]
    lines.insert(2, b'{"event_id": "x", "type": "contact.created"}')
    lines.insert(5, b"not json at all")
    path = tmp_path / "events.ndjson"
    path.write_bytes(b"\n".join(lines) + b"\n\n")
    result = runner.invoke(app, ["replay", str(path), "--batch", "4"])
    assert result.exit_code == 0, result.output
    assert "replayed 9 events" in result.output
    assert "2 lines rejected" in result.output
    replayed = []
    for p in range(16):
        for _, fields in redis.xrange(events_stream(p)):
            replayed.extend(decode_events(fields[b"e"]))
    assert sorted(e.event_id for e in replayed) == sorted(e["event_id"] for e in good)
    letters = [fields for _, fields in redis.xrange(DLQ)]
    assert [(f[b"source"], f[b"field"]) for f in letters] == [
        (b"replay:events.ndjson:3", b"ts"), (b"replay:events.ndjson:6", b""),
    ]
    assert b"missing required field" in letters[0][b"reason"]
    assert letters[1][b"raw"] == b"not json at all"


def test_replay_survives_invalid_utf8_and_writes_every_good_line(tmp_path, redis, redis_url, monkeypatch):
    from sqm.keys import DLQ, events_stream
    from sqm.models import decode_events

    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("SQM_STREAMS__TS_MAX_AGE_S", "0")  # the file is dated 2026-03-02: no lower bound
    good = [orjson.dumps({"event_id": f"u{i}", "type": "contact.created", "ts": "2026-03-02T09:00:00+08:00",
                          "contact_id": f"c{i}", "team": "billing", "channel": "chat"}) for i in range(3)]
    bad = b'{"event_id": "u-\xff", "type": "contact.created", "ts": "2026-03-02T09:00:00+08:00", "contact_id": "c",' \
          b' "team": "billing", "channel": "chat"}'
    path = tmp_path / "mixed.ndjson"
    future = good[0].replace(b"u0", b"f0").replace(b"2026-03-02", b"9999-03-02")
    path.write_bytes(b"\n".join([good[0], bad, good[1], good[2], future]) + b"\n")
    result = runner.invoke(app, ["replay", str(path)])
    assert result.exit_code == 0, result.output
    assert "replayed 3 events" in result.output and "2 lines rejected" in result.output
    replayed = [e.event_id for p in range(16) for _, f in redis.xrange(events_stream(p)) for e in decode_events(f[b"e"])]
    assert sorted(replayed) == ["u0", "u1", "u2"]
    [(_, letter), (_, ahead)] = redis.xrange(DLQ)
    assert letter[b"source"] == b"replay:mixed.ndjson:2" and b"UTF-8" in letter[b"reason"] and letter[b"raw"] == bad
    assert ahead[b"source"] == b"replay:mixed.ndjson:5" and ahead[b"field"] == b"ts" and b"ahead of now" in ahead[b"reason"]

def _series_with_a_step(tmp_path):
    """A week of 5-minute values with a daily wave, noise, and one labelled 2.5-hour step up."""
    import json
    import math
    import random
    from datetime import UTC, datetime, timedelta

    rng = random.Random(1)
    t0 = datetime(2026, 1, 5, tzinfo=UTC)
    rows = ["timestamp,value"]
    for i in range(7 * 288):
        value = 100 + 20 * math.sin(i / 288 * 2 * math.pi) + rng.gauss(0, 3) + (40 if 1500 <= i < 1530 else 0)
        rows.append(f"{t0 + timedelta(minutes=5 * i):%Y-%m-%d %H:%M:%S},{value:.2f}")
    csv = tmp_path / "calls.csv"
    csv.write_text("\n".join(rows) + "\n")
    labels = tmp_path / "labels.json"
    window = [f"{t0 + timedelta(minutes=5 * i):%Y-%m-%d %H:%M:%S}.000000" for i in (1500, 1530)]
    labels.write_text(json.dumps({"data/calls.csv": [window]}))
    return csv, labels


def test_backtest_scores_a_csv_against_its_labels(tmp_path):
    csv, labels = _series_with_a_step(tmp_path)
    out = tmp_path / "result.json"
    result = runner.invoke(app, ["backtest", str(csv), "--labels", str(labels), "--direction", "up", "--json", str(out)])
    assert result.exit_code == 0, result.output
    scored = orjson.loads(out.read_bytes())
    assert scored["recall"] == 1.0
    assert scored["false_alerts"] == 0
    assert 0 < scored["delay_minutes_median"] <= 30
    assert "calls.csv" in result.output
    wrong_way = runner.invoke(app, ["backtest", str(csv), "--labels", str(labels), "--direction", "down",
                                    "--json", str(out)])
    assert wrong_way.exit_code == 0
    assert orjson.loads(out.read_bytes())["recall"] == 0.0


def test_backtest_refuses_bad_input(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,value\n2026-01-01 00:00:00,1\nyesterday,2\n")
    result = runner.invoke(app, ["backtest", str(bad)])
    assert result.exit_code == 2
    assert "line 3" in result.output
    assert runner.invoke(app, ["backtest"]).exit_code == 2


def test_backtest_on_the_simulator_labels_the_incident_series(tmp_path):
    out = tmp_path / "result.json"
    result = runner.invoke(app, ["backtest", "--simulate", "2h", "--seed", "2", "--json", str(out),
                                 "--incident", "team=tech kpi=timeout_rate change=+50% at=+1h for=30m"])
    assert result.exit_code == 0, result.output
    assert "60m|tech|*|*:timeout_rate" in result.output
    assert orjson.loads(out.read_bytes())["windows"] == 1
