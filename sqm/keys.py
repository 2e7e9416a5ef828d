"""The Redis key layout every process agrees on (docs/architecture.md lists it all).

Keys that belong to one partition carry a hash tag (``{3}``) so that a Redis
Cluster keeps each partition's keys on one node.
"""

from __future__ import annotations

import zlib

PREFIX = "sqm"

DLQ = f"{PREFIX}:dlq"
"""Stream of rejected records: fields ``reason``, ``source``, ``raw`` (and ``field``)."""

ANOMALIES = f"{PREFIX}:anomalies"
"""Stream of Anomaly records (field ``a``: JSON), written by the dataflow, read by the alerter."""

KPI_LIVE = f"{PREFIX}:kpi:live"
"""Pub/sub channel: each message is a JSON list of KpiSnapshots just written."""


def events_stream(partition: int) -> str:
    """Stream of one partition of ServiceEvents: ``sqm:events:{3}``.

    Each entry has one field ``e`` holding a JSON object (one event) or a JSON
    array of events; producers batch up to ``EVENTS_PER_ENTRY`` events an entry.
    """
    return f"{PREFIX}:events:{{{partition}}}"


EVENTS_PER_ENTRY = 100


def partition_for(team: str, partitions: int) -> int:
    """The partition of a team: stable across processes and restarts (CRC-32).

    >>> partition_for("billing", 4), partition_for("billing", 4) == partition_for("billing", 4)
    (2, True)
    """
    return zlib.crc32(team.encode()) % partitions


def kpi_latest(window: str) -> str:
    """Hash ``dims -> KpiSnapshot JSON`` of the latest snapshot per dimension, dims = ``team|channel|region``."""
    return f"{PREFIX}:kpi:latest:{window}"


def kpi_history(series: str) -> str:
    """Sorted set of one series' snapshots (score = window start, epoch seconds); trimmed by age."""
    return f"{PREFIX}:kpi:hist:{series}"


def dims_field(team: str, channel: str, region: str) -> str:
    return f"{team}|{channel}|{region}"
