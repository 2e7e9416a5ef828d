"""Running the dataflow: ``run_flow(settings, redis_url)`` (what ``sqm flow`` calls).

Recovery is on by default (``streams.recovery``): bytewax snapshots every step's
state and each stream's offset into ``state_dir/recovery`` every epoch, and a
restarted flow resumes from the last complete epoch; the sinks are idempotent, so
what it re-emits overwrites. ``stop`` (or SIGTERM/SIGINT when no ``stop`` is given
and this is the main thread) ends the flow cleanly: the sources stop, the last
epoch is snapshotted, the sinks flush.
"""

from __future__ import annotations

import logging
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from bytewax.recovery import RecoveryConfig, init_db_dir
from bytewax.run import cli_main

from sqm.config import Settings
from streams.bucketing import BucketingSource
from streams.flow import FlowSinks, Monitor, build_flow
from streams.partition import Params
from streams.sinks import anomaly_sink, dlq_sink, kpi_sink
from streams.source import RedisStreamSource

log = logging.getLogger(__name__)

RECOVERY_PARTITIONS = 1


def recovery_config(state_dir: Path, *, processes: int = 1, process_id: int = 0) -> RecoveryConfig:
    """The recovery store under ``state_dir/recovery``, created on first use.

    A cluster of N processes has N recovery partitions; process ``i`` keeps
    ``part-i`` in its own state directory (docs/scaling.md).
    """
    db_dir = Path(state_dir) / "recovery"
    if not any(db_dir.glob("part-*.sqlite3")):
        db_dir.mkdir(parents=True, exist_ok=True)
        if processes <= 1:
            init_db_dir(db_dir, RECOVERY_PARTITIONS)
        else:
            with tempfile.TemporaryDirectory(dir=db_dir) as tmp:
                init_db_dir(Path(tmp), processes)
                shutil.move(str(Path(tmp) / f"part-{process_id}.sqlite3"), db_dir)
    return RecoveryConfig(str(db_dir))


def redis_source(settings: Settings, redis_url: str, *, stop: threading.Event | None = None,
                 wall: Callable[[], float] = time.time) -> BucketingSource:
    """The event streams of ``redis_url``, each stream's work done where it is read."""
    s = settings.streams
    raw = RedisStreamSource(redis_url, s.partitions, count=max(1, s.batch_size // 10), poll_ms=s.read_block_ms,
                            stop=stop, trim=s.recovery)
    return BucketingSource(raw, Params.of(settings), wall)


def redis_sinks(settings: Settings, redis_url: str) -> FlowSinks:
    """The hot store, dead letters and anomalies in ``redis_url``; InfluxDB too when it is configured."""
    influx = None
    if settings.influx.enabled:
        from streams.influx import InfluxSink  # influxdb-client takes 0.5 s to import: only when used

        influx = InfluxSink(settings.influx, redis_url)
    keep = {"1h": settings.improve.hour_days, "1d": settings.improve.day_days}
    return FlowSinks(kpis=kpi_sink(redis_url, settings.streams.history_hours, keep), dead_letters=dlq_sink(redis_url),
                     anomalies=anomaly_sink(redis_url), influx=influx)


def run_flow(
    settings: Settings,
    redis_url: str,
    *,
    workers: int = 1,
    stop: threading.Event | None = None,
    process_id: int | None = None,
    addresses: list[str] | None = None,
    epoch_interval_s: float | None = None,
    monitor_factory: Callable[[], Monitor] | None = None,
    wall: Callable[[], float] = time.time,
) -> None:
    """Run the KPI dataflow until ``stop`` is set (or SIGTERM/SIGINT); blocks.

    ``workers`` threads in this process; for several processes (several machines)
    give each the same ``addresses`` (``host:port`` of every process) and its own
    ``process_id`` — see docs/scaling.md. ``monitor_factory`` (one monitor per
    series; ``detectors.build_monitor`` by default) and ``wall`` (the clock of idle
    close) are seams for tests.
    """
    if stop is None:
        stop = threading.Event()
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: stop.set())
    source = redis_source(settings, redis_url, stop=stop, wall=wall)
    flow = build_flow(settings, source, redis_sinks(settings, redis_url), monitor_factory=monitor_factory)
    recovery = None
    if settings.streams.recovery:
        recovery = recovery_config(settings.state_dir, processes=len(addresses or ()) or 1, process_id=process_id or 0)
    log.info("flow: %d partitions, %d worker(s), recovery %s", settings.streams.partitions, workers,
             recovery.db_dir if recovery else "off")
    cli_main(
        flow,
        workers_per_process=workers,
        process_id=process_id,
        addresses=addresses,
        epoch_interval=timedelta(seconds=epoch_interval_s or settings.streams.epoch_s),
        recovery_config=recovery,
    )
