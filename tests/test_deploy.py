"""docker-compose.yml is valid and runs the product's real commands (no Docker engine needed)."""

import shutil
import subprocess

import pytest
import yaml
from typer.main import get_command

from sqm_cli.app import app


@pytest.fixture(scope="module")
def compose() -> str:
    path = shutil.which("docker-compose")
    if path is None:
        pytest.fail("docker-compose is not installed: './dev test' installs it (apt-get install docker-compose)")
    return path


def _config(compose: str, repo_root, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [compose, "--env-file", ".env.example", "-f", "docker-compose.yml", "config", *extra],
        cwd=repo_root, capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"},
    )


def test_compose_file_is_valid(compose, repo_root):
    result = _config(compose, repo_root, "-q")
    assert result.returncode == 0, result.stderr


def test_compose_refuses_missing_secrets(compose, repo_root):
    result = subprocess.run(
        [compose, "-f", "docker-compose.yml", "config", "-q"],
        cwd=repo_root, capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode != 0
    assert "set INFLUX" in result.stderr


def test_compose_runs_the_three_sqm_processes_and_their_stores(compose, repo_root):
    resolved = yaml.safe_load(_config(compose, repo_root).stdout)
    services = resolved["services"]
    assert {"redis", "influxdb", "grafana", "sqm-flow", "sqm-alerter", "sqm-api"} <= set(services)
    assert services["influxdb"]["image"].startswith("influxdb:2.7")
    commands = set(get_command(app).commands)  # type: ignore[attr-defined]
    for name in ("sqm-flow", "sqm-alerter", "sqm-api"):
        service = services[name]
        assert service["command"][0] in commands
        assert service["environment"]["REDIS_URL"] == "redis://redis:6379/0"
        assert service["environment"]["SQM_ENVIRONMENT"] == "production"
