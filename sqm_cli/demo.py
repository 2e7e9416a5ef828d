"""``sqm demo``: the whole product on a simulated contact center, one command.

An embedded Redis, the three processes (``sqm flow``, ``sqm api``, later ``sqm alerter``)
as children, and the simulator as the producer: history at full speed first, then live.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from typing import Annotated

import typer

from sqm.errors import SqmError
from sqm_cli.common import ConfigOpt, console, log, parse_duration, settings_or_exit, stop_on_signals

WARM_START = timedelta(hours=6)
DEMO_INCIDENT = "team=billing kpi=timeout_rate change=+60% at=+10m for=90m"
DEMO_VOLUMES = {"billing": 3000.0, "tech": 2000.0, "sales": 1500.0, "vip": 500.0}
"""Contacts per hour of the demo's center: a large one, where a swing shows within minutes."""


def _spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "sqm_cli", *args], env=env, start_new_session=True)


def _stop_all(procs: list[subprocess.Popen[bytes]], timeout: float = 10.0) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for p in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.wait(max(0.1, deadline - time.monotonic()))
        if p.poll() is None:
            log.warning("process %s did not stop in %.0f s: killing it", p.args, timeout)
            p.kill()
            p.wait()


def _wait_http(url: str, procs: list[subprocess.Popen[bytes]], timeout: float = 60.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            msg = "a demo process exited during start-up (see its messages above)"
            raise SqmError(msg)
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    msg = f"the API did not answer at {url} within {timeout:.0f} s"
    raise SqmError(msg)


def demo(
    config: ConfigOpt = None,
    speed: Annotated[float, typer.Option(help="Simulated seconds per wall second once live (60 = an hour a minute).")] = 60.0,
    history: Annotated[str, typer.Option(help="Simulated history (up to 09:00 site time) loaded at full speed first; "
                                         "the detectors learn from it, the alerter starts after it.")] = "36h",
    incident: Annotated[
        list[str] | None, typer.Option(help=f'Incident(s) to inject; "at=+20m" is relative to going live. Default: "{DEMO_INCIDENT}".')
    ] = None,
    port: Annotated[int, typer.Option(help="Wallboard/API port.")] = 8000,
    seed: Annotated[int, typer.Option(help="Random seed of the simulated contact center.")] = 7,
    run_for: Annotated[
        float | None, typer.Option("--run-for", help="Stop by itself after this many wall seconds (default: until Ctrl-C).")
    ] = None,
) -> None:
    """Run everything on a simulated contact center: embedded Redis, dataflow, alerter, API + wallboard, simulator.

    History is simulated at full speed first (so the detectors have a baseline: with a day of it they know the
    daily rhythm, e.g. that response times rise every morning), then the simulator goes live at --speed and injects
    the incident: watch the wallboard turn red and the alert arrive. The alerter starts once the dataflow has
    caught up with the history: anomalies found in the history are on the wallboard and in the API, but they are
    not news and are not notified. Ctrl-C stops everything.
    """
    from zoneinfo import ZoneInfo

    from alerts.runner import ensure_group
    from sim.incidents import Incident
    from sim.io import paced, write_stream
    from sim.simulator import Simulator
    from sqm.store import connect, embedded_redis

    base = settings_or_exit(config)
    state = base.state_dir / "demo"
    shutil.rmtree(state, ignore_errors=True)
    # The simulated day is the site's: history up to 09:00 local time today, then live.
    site = ZoneInfo(base.alerts.timezone)
    live_at = datetime.now(site).replace(hour=9, minute=0, second=0, microsecond=0)
    begin = live_at - parse_duration(history)
    try:
        incidents = [Incident.parse(_relative_to(text, live_at), day=live_at.date()) for text in incident or [DEMO_INCIDENT]]
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--incident") from err
    stop = stop_on_signals()
    with embedded_redis(state / "redis") as url:
        env = {
            **os.environ,
            "REDIS_URL": url,
            "SQM_STATE_DIR": str(state),
            "SQM_ALERTS__GROUP_WAIT_S": os.environ.get("SQM_ALERTS__GROUP_WAIT_S", "2"),
            "PYTHONUNBUFFERED": "1",
        }
        procs = [_spawn(["flow"], env), _spawn(["api", "--port", str(port)], env)]
        try:
            base_url = f"http://127.0.0.1:{port}"
            _wait_http(f"{base_url}/healthz", procs)
            receivers = ", ".join(r.name for r in base.alerts.receivers)
            console.rule("[bold]sqm demo")
            console.print(f"wallboard   [bold cyan]{base_url}/[/]   (API docs: {base_url}/docs)")
            console.print(f"alerts go to: {receivers} (the console receiver prints them here)")
            console.print(f"incidents:  {'; '.join(incident or [DEMO_INCIDENT])} (relative to going live)")
            console.print("Ctrl-C stops everything.")
            console.rule()
            redis = connect(url)
            # the center is already running when sqm starts watching: contacts of the hours before are
            # still answered, resolved and complained about; the source sends the durations it knows
            sim = Simulator(base, seed=seed, start=begin - WARM_START, incidents=incidents, durations=True,
                            volumes={t: v for t, v in DEMO_VOLUMES.items() if t in {x.name for x in base.teams}})
            events = (ev for ev in sim.events(live_at + timedelta(days=30)) if ev.ts >= begin)
            with console.status(f"loading {history} of history at full speed…"):
                backlog = write_stream(redis, _until(events, live_at, stop), base.streams.partitions)
            with console.status("the dataflow is learning the history…"):
                _wait_for_flow(redis, live_at.timestamp() - base.streams.allowed_lateness_s - 60, procs)
            ensure_group(redis, start="$")  # the history's anomalies stay on the wallboard; alerts start now
            procs.append(_spawn(["alerter"], env))
            console.print(f"history loaded: {backlog:,} events up to {live_at:%H:%M} site time; going live at ×{speed:g}")
            deadline = math.inf if run_for is None else time.monotonic() + run_for
            sent = 0
            for batch in paced(events, speed=speed):
                if stop.is_set() or time.monotonic() >= deadline:
                    break
                if any(p.poll() is not None for p in procs):
                    msg = "a demo process stopped unexpectedly (see its messages above)"
                    raise SqmError(msg)
                sent += write_stream(redis, batch, base.streams.partitions)
        except SqmError as err:
            console.print(f"[bold red]demo failed:[/] {err}")
            raise typer.Exit(1) from err
        finally:
            console.print("stopping…")
            _stop_all(procs)
    console.print("[green]stopped[/]: nothing left running.")


def _wait_for_flow(redis: object, until: float, procs: list[subprocess.Popen[bytes]], timeout: float = 300.0) -> None:
    """Wait until the dataflow has closed the minutes up to ``until`` (epoch s), or ``timeout`` seconds."""
    from sqm.keys import FLOW_STATS

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        closed = redis.hget(FLOW_STATS, "closed_until")  # type: ignore[attr-defined]
        if closed is not None and float(closed) >= until:
            return
        if any(p.poll() is not None for p in procs):
            msg = "a demo process stopped unexpectedly (see its messages above)"
            raise SqmError(msg)
        time.sleep(0.2)
    log.warning("the dataflow has not caught up with the history after %.0f s: starting the alerter anyway", timeout)


def _relative_to(text: str, live_at: datetime) -> str:
    """Rewrite ``at=+20m`` (relative to going live) into an absolute ISO time."""
    parts = []
    for part in text.split():
        if part.startswith("at=+"):
            part = f"at={(live_at + parse_duration(part[4:])).isoformat()}"
        parts.append(part)
    return " ".join(parts)


def _until(events, limit: datetime, stop: threading.Event):  # type: ignore[no-untyped-def]
    """The events before ``limit`` (leaving the rest in the shared iterator)."""
    for ev in events:
        yield ev
        if ev.ts >= limit or stop.is_set():
            return
