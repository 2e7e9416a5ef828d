"""schemathesis against the running API (uvicorn, real Redis) with a production-like configuration.

Two runs over the OpenAPI the app serves, seeded, with bounded examples:

- every operation but the endless ``/v1/live`` stream: no answer is a server error;
- the same less ``/ack/{token}`` (its 403 page is not declared yet): every answer's status
  code, content type, schema and headers are the ones declared, a request the schema
  forbids is refused, and a public route's security is what it declares (a key optional).
  Left out: ``positive_data_acceptance``, as validity that a schema cannot express (a ``ts``
  within the accepted range, exactly one of ``ends_at`` and ``duration_s``) makes some
  schema-valid requests 422 by design.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from api.app import create_app
from sqm.config import Settings
from tests.api.conftest import CW_SECRET, KEYS, ZD_SECRET, LiveServer

SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")


@pytest.fixture
def production_api(redis):
    settings = Settings(
        environment="production",
        streams={"partitions": 4},
        api={"keys": [{"key": k, "role": role, "name": f"{role}-test"} for role, k in KEYS.items()],
             "webhooks": [{"name": "cw", "kind": "chatwoot", "secret": CW_SECRET, "default_team": "billing"},
                          {"name": "zd", "kind": "zendesk", "secret": ZD_SECRET, "default_team": "tech"}]},
        alerts={"signing_secret": "ack-link-signing-secret-77b2",
                "receivers": [{"name": "ops", "urls": ["json://127.0.0.1:9/hook-token"]}], "route": {"receiver": "ops"}},
    )
    with LiveServer(create_app(settings, redis=redis)) as server:
        yield server


def schemathesis(server: LiveServer, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SCHEMATHESIS, "run", f"{server.url}/openapi.json", "-H", f"Authorization: Bearer {KEYS['admin']}",
         "--max-examples", "10", "--seed", "1", "--workers", "1", "--generation-database", "none", "--no-color",
         "--request-timeout", "10", *args],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, check=False)


def test_no_operation_answers_a_server_error(production_api, tmp_path):
    run = schemathesis(production_api, tmp_path, "--checks", "not_a_server_error", "--exclude-path", "/v1/live")
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    selected, tested = re.search(r"Selected: (\d+)/\d+", run.stdout), re.search(r"Tested: (\d+)", run.stdout)
    assert selected and tested and int(tested[1]) == int(selected[1]) > 20, run.stdout[-3000:]


def test_every_answer_is_the_declared_one(production_api, tmp_path):
    run = schemathesis(production_api, tmp_path, "--exclude-checks", "positive_data_acceptance",
                       "--exclude-path-regex", r"^/(ack/|v1/live)")
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
