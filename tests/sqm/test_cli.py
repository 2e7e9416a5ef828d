"""The sqm command: help for newcomers, check-config names bad keys."""

from typer.testing import CliRunner

from sqm.cli import app

runner = CliRunner()


def test_every_command_has_useful_help():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("demo", "flow", "alerter", "api", "simulate", "check-config", "notify-test"):
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
