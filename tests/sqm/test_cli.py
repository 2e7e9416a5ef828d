"""The sqm command: help for newcomers, check-config names bad keys."""

from typer.testing import CliRunner

from sqm.cli import app

runner = CliRunner()


def test_every_command_has_useful_help():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("demo", "flow", "alerter", "api", "simulate", "check-config"):
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
