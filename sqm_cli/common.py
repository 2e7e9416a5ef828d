"""What every ``sqm`` command shares: the console, the settings, Redis, signals, durations and times."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from sqm.config import Settings, load_settings
from sqm.errors import ConfigError

console = Console(stderr=True)
log = logging.getLogger("sqm")

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="Settings file (YAML). Default: $SQM_CONFIG, else ./sqm.yaml if present."),
]


def settings_or_exit(config: Path | None, **overrides: object) -> Settings:
    """The settings, or a clear message and exit code 2."""
    try:
        return load_settings(config, **overrides)
    except ConfigError as err:
        console.print(f"[bold red]configuration error:[/] {escape(str(err))}")
        raise typer.Exit(2) from err


@contextlib.contextmanager
def redis_url(settings: Settings) -> Iterator[str]:
    """The configured Redis, or an embedded one for the duration of the block."""
    if settings.redis_url:
        yield settings.redis_url
        return
    from sqm.store import embedded_redis

    with embedded_redis(settings.state_dir / "redis") as url:
        log.info("no REDIS_URL: using embedded Redis at %s", url)
        yield url


def stop_on_signals() -> threading.Event:
    """An event set by SIGINT/SIGTERM, so long-running commands stop cleanly."""
    stop = threading.Event()

    def handler(signum: int, frame: object) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stop


def parse_duration(text: str) -> timedelta:
    """'90m', '3h', '2d', '45s' → timedelta.

    >>> parse_duration("90m"), parse_duration("2d")
    (datetime.timedelta(seconds=5400), datetime.timedelta(days=2))
    """
    units = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
    try:
        return timedelta(**{units[text[-1]]: float(text[:-1])})
    except (KeyError, ValueError, IndexError) as err:
        msg = f"not a duration: {text!r} (use e.g. 45s, 90m, 3h, 2d)"
        raise typer.BadParameter(msg) from err


def parse_start(text: str | None, site: str) -> datetime:
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
