"""``sqm backtest``: KPI history (CSV files or simulated days) through the detectors, scored."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from sqm.config import Settings
from sqm_cli.common import ConfigOpt, console, parse_duration, settings_or_exit


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

    from detectors.backtest import read_csv, read_labels, run_backtest

    settings = settings_or_exit(config)
    if direction not in ("up", "down", "both"):
        msg = "use up, down or both"
        raise typer.BadParameter(msg, param_hint="--direction")
    if simulate is None and not files:
        msg = "give CSV files or --simulate DURATION"
        raise typer.BadParameter(msg)
    try:
        if simulate is not None:
            result = _backtest_simulated(settings, parse_duration(simulate), incident or [], seed)
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


def _backtest_simulated(settings: Settings, span: timedelta, incidents: list[str], seed: int) -> Any:
    from zoneinfo import ZoneInfo

    from detectors import build_monitor
    from detectors.backtest import backtest_monitor
    from sim.incidents import Incident
    from sim.simulator import Simulator
    from sqm.models import ALL, series_id
    from streams.offline import closed_minutes

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
