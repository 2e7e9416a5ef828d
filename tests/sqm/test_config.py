"""Settings: the customer's targets by default; a bad value fails with its key named."""

import pytest

from sqm.config import load_settings
from sqm.errors import ConfigError


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch, tmp_path):
    for name in ("SQM_CONFIG", "REDIS_URL", "INFLUX_URL", "INFLUX_TOKEN", "SQM_ENVIRONMENT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def test_defaults_carry_the_customer_standards():
    s = load_settings()
    assert s.targets.frt_avg_s == 120
    assert s.targets.fcr_rate == 0.85
    assert s.targets.csat == 0.90
    assert s.targets.complaint_rate == 0.02
    assert s.targets.complaint_response_general_s == 2 * 3600
    assert s.targets.complaint_response_major_s == 30 * 60
    assert s.answer_target_s("chat") == 30
    assert s.answer_target_s("carrier-pigeon") == 120


def test_yaml_file_and_environment_override(tmp_path, monkeypatch):
    path = tmp_path / "sqm.yaml"
    path.write_text("streams:\n  partitions: 8\ntargets:\n  csat: 0.8\n")
    assert load_settings(path).streams.partitions == 8
    monkeypatch.setenv("SQM_STREAMS__PARTITIONS", "16")
    s = load_settings(path)
    assert s.streams.partitions == 16
    assert s.targets.csat == 0.8
    monkeypatch.setenv("REDIS_URL", "redis://10.0.0.1:6379/2")
    assert load_settings(path).redis_url == "redis://10.0.0.1:6379/2"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("streams:\n  partitions: 0\n", "streams.partitions"),
        ("streams:\n  partitons: 4\n", "streams.partitons"),
        ("targets:\n  csat: high\n", "targets.csat"),
        ("channels:\n  - {name: chat}\n", "channels.0.answer_target_s"),
        ("alerts:\n  route: {receiver: nobody}\n", "alerts.route.receiver"),
        ("alerts:\n  send_lease_s: 2\n  timeout_s: 30\n", "alerts.timeout_s"),
        ("colour: red\n", "colour"),
    ],
)
def test_bad_key_is_named(tmp_path, text, key):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert key in str(info.value)


def test_bad_environment_variable_is_named(monkeypatch):
    monkeypatch.setenv("SQM_STREAMS__PARTITIONS", "many")
    with pytest.raises(ConfigError, match="streams.partitions"):
        load_settings()


def test_invalid_yaml_and_missing_file(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("streams: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(path)
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.yaml")


def test_production_refuses_to_run_without_api_keys(monkeypatch):
    monkeypatch.setenv("SQM_ENVIRONMENT", "production")
    with pytest.raises(ConfigError, match="api.keys"):
        load_settings()
    monkeypatch.setenv("SQM_API__KEYS", '[{"key": "short", "role": "admin"}]')
    with pytest.raises(ConfigError, match="16 characters"):
        load_settings()
    monkeypatch.setenv("SQM_API__KEYS", '[{"key": "a-long-enough-secret-key", "role": "admin"}]')
    assert load_settings().api.keys[0].role == "admin"


def test_secrets_are_not_shown(monkeypatch):
    monkeypatch.setenv("SQM_API__KEYS", '[{"key": "super-secret-key-value", "role": "admin"}]')
    s = load_settings()
    assert "super-secret-key-value" not in repr(s)
    assert "super-secret-key-value" not in s.model_dump_json()


def test_production_names_every_rule_it_breaks_at_once(tmp_path):
    path = tmp_path / "sqm.yaml"
    path.write_text("environment: production\n"
                    "api: {keys: [{key: short, role: admin, name: ops}], webhooks: [{name: zd, kind: zendesk}]}\n")
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    message = str(err.value)
    assert "api.keys[ops].key: use at least 16 characters" in message
    assert "api.webhooks[zd].secret: production needs a signing secret" in message
    assert "<root>" not in message and "Value error" not in message
    development = path.read_text().replace("production", "development")
    path.write_text(development)
    assert load_settings(path).api.webhooks[0].name == "zd"
