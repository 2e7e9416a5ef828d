"""Real alerter processes for the fault and robustness tests: ``sqm alerter`` (``run_alerter``) in its own
interpreter, on the test's Redis, with the settings passed as JSON (secrets included)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from sqm.config import Settings

ROOT = Path(__file__).resolve().parents[2]
_MAIN = """
import logging, sys
logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
from sqm.config import Settings
from alerts.runner import run_alerter
run_alerter(Settings.model_validate_json(sys.argv[1]), sys.argv[2])
"""


def settings_json(s: Settings) -> str:
    """The settings as JSON a child process validates again, receiver URLs in clear."""
    alerts: dict[str, Any] = s.alerts.model_dump(mode="json", by_alias=True)
    for r, src in zip(alerts["receivers"], s.alerts.receivers, strict=True):
        r["urls"] = [u.get_secret_value() for u in src.urls]
    alerts["signing_secret"] = s.alerts.signing_secret.get_secret_value()
    alerts["email_url"] = s.alerts.email_url.get_secret_value()
    return json.dumps(s.model_dump(mode="json", by_alias=True) | {"alerts": alerts})


def start_alerter(s: Settings, redis_url: str, *, log: IO[bytes] | None = None) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", _MAIN, settings_json(s), redis_url], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=log if log is not None else subprocess.DEVNULL)


def stop(proc: subprocess.Popen[bytes], timeout: float = 20.0) -> int | None:
    """SIGTERM, then SIGKILL if it does not exit within ``timeout``; returns the exit code of the SIGTERM
    (None when it had to be killed)."""
    if proc.poll() is not None:
        return proc.returncode
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
        return None


@contextlib.contextmanager
def alerter_process(s: Settings, redis_url: str, *, log: IO[bytes] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    proc = start_alerter(s, redis_url, log=log)
    try:
        yield proc
    finally:
        stop(proc)
