"""``sqm simulate`` and ``sqm replay``: producers that put events into the streams (or a file)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

from sqm_cli.common import ConfigOpt, console, parse_duration, parse_start, redis_url, settings_or_exit


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
    from sim.incidents import Incident
    from sim.io import paced, write_ndjson, write_stream
    from sim.simulator import Simulator

    settings = settings_or_exit(config)
    begin = parse_start(start, settings.alerts.timezone)
    until = begin + parse_duration(duration)
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
            with redis_url(settings) as url:
                from sqm.store import connect

                redis = connect(url)
                # paced batches go to Redis as they fall due, not once 2,000 have gathered
                write_stream(redis, tracked() if speed <= 0 else paced(tracked(), speed=speed), settings.streams.partitions)
        bar.update(task, completed=total, info=f"{count:,} events")
    console.print(f"[green]done[/]: {count:,} events, {begin:%Y-%m-%d %H:%M} → {until:%Y-%m-%d %H:%M} UTC"
                  + (f" → {out}" if out else " → Redis streams"))


def replay(
    file: Annotated[Path, typer.Argument(help="NDJSON file of ServiceEvents (one JSON object a line), or - for stdin.")],
    config: ConfigOpt = None,
    batch: Annotated[int, typer.Option(min=1, help="Events per write to Redis.")] = 2000,
) -> None:
    """Replay an NDJSON file of events into the event streams; bad lines go to the dead-letter stream with their reason.

    Events older than streams.ts_max_age_s (7 days) are refused like at the API: for an older file, raise it
    (SQM_STREAMS__TS_MAX_AGE_S=0 lifts the bound).
    """
    from sqm.clock import SystemClock
    from sqm.eventlog import DeadLetter, append_dead_letters, append_events
    from sqm.ingest import EventTimes, decode_record
    from sqm.models import ServiceEvent
    from sqm.store import connect

    settings = settings_or_exit(config)
    stream = sys.stdin.buffer if str(file) == "-" else file.open("rb")
    size = 0 if str(file) == "-" else file.stat().st_size
    written = rejected = 0
    with redis_url(settings) as url, stream, Progress(
        TextColumn("replaying"), BarColumn(), DownloadColumn(), TextColumn("{task.fields[info]}"), console=console
    ) as bar:
        redis = connect(url)
        task = bar.add_task("replay", total=size or None, info="")
        times, clock = EventTimes.of(settings.streams), SystemClock()
        good: list[ServiceEvent] = []
        bad: list[DeadLetter] = []
        for lineno, line in enumerate(stream, 1):
            if line.strip():
                got = decode_record(line.rstrip(b"\r\n"), source=f"replay:{file.name}:{lineno}", times=times,
                                    now=clock.now().timestamp(), keep_text=settings.text.keep_raw)
                if isinstance(got, ServiceEvent):
                    good.append(got)
                else:
                    bad.append(got)
            if len(good) >= batch or len(bad) >= batch:
                append_events(redis, good, settings.streams.partitions, source="replay")
                append_dead_letters(redis, bad)
                written, rejected = written + len(good), rejected + len(bad)
                good, bad = [], []
                bar.update(task, completed=stream.tell() if size else None, info=f"{written:,} events, {rejected:,} rejected")
        append_events(redis, good, settings.streams.partitions, source="replay")
        append_dead_letters(redis, bad)
        written, rejected = written + len(good), rejected + len(bad)
        bar.update(task, completed=size or None, info=f"{written:,} events, {rejected:,} rejected")
    console.print(f"[green]replayed[/] {written:,} events into the streams"
                  + (f"; [yellow]{rejected:,} lines rejected[/] (reasons in sqm:dlq)" if rejected else ""))
