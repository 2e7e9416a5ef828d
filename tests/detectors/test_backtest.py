"""The backtest tool: CSV and NAB labels in, event-level precision/recall/delay out."""

from __future__ import annotations

import json
import math
import random
from datetime import UTC, datetime, timedelta

import pytest

from detectors import build_monitor
from detectors.backtest import backtest_monitor, read_csv, read_labels, run_backtest
from sqm.config import Settings
from tests.detectors.detsynth import T0, rolling_timeout

START = datetime(2026, 3, 2, tzinfo=UTC)


def hourly_csv(seed: int, days: int = 21, shift: tuple[int, int, float] | None = None) -> str:
    """A daily-rhythm series, hourly, with an optional (start hour, length, factor) incident."""
    rng = random.Random(seed)
    lines = ["timestamp,value"]
    for h in range(days * 24):
        y = 200 + 80 * math.sin(2 * math.pi * h / 24) + rng.gauss(0, 6)
        if shift and shift[0] <= h < shift[0] + shift[1]:
            y *= shift[2]
        lines.append(f"{(START + timedelta(hours=h)).strftime('%Y-%m-%d %H:%M:%S')},{y:.3f}")
    return "\n".join(lines)


def test_read_csv_takes_naive_times_as_utc_skips_the_header_and_names_a_bad_line():
    rows = read_csv("timestamp,value\n2026-03-02 01:00:00,2.5\n2026-03-02T00:00:00+08:00,1\n")
    assert rows == [(datetime(2026, 3, 1, 16, tzinfo=UTC), 1.0), (datetime(2026, 3, 2, 1, tzinfo=UTC), 2.5)]
    with pytest.raises(ValueError, match="line 3"):
        read_csv("timestamp,value\n2026-03-02 01:00:00,2.5\n2026-03-02 02:00:00,lots\n")


def test_read_labels_nab_format_by_file_name():
    text = json.dumps(
        {"realKnownCause/a.csv": [["2026-03-02 01:00:00.000000", "2026-03-02 03:00:00.000000"]], "b.csv": []}
    )
    assert read_labels(text, name="data/a.csv") == [
        (datetime(2026, 3, 2, 1, tzinfo=UTC), datetime(2026, 3, 2, 3, tzinfo=UTC))
    ]
    with pytest.raises(ValueError, match="say which one"):
        read_labels(text)
    with pytest.raises(ValueError, match="no entry for 'c.csv'"):
        read_labels(text, name="c.csv")


def test_seasonal_backtest_finds_the_incident_and_stays_quiet_on_a_quiet_series():
    incident_h = 17 * 24 + 10
    labels = {"shifted": [(START + timedelta(hours=incident_h), START + timedelta(hours=incident_h + 6))], "quiet": []}
    series = {"shifted": read_csv(hourly_csv(1, shift=(incident_h, 6, 1.3))), "quiet": read_csv(hourly_csv(2))}
    result = run_backtest(series, labels, direction="up", tz_offset_s=0)
    assert result.recall == 1.0 and result.precision == 1.0
    assert result.false_alerts == 0 and result.false_alerts_per_day == 0.0
    assert result.delay_median == 2.0  # three windows in a row: the third
    assert result.to_dict()["delay_minutes_median"] == 120.0
    assert "recall 100%" in result.table()


def test_a_missed_incident_and_a_false_alert_are_both_counted():
    labels = {"s": [(START + timedelta(days=20), START + timedelta(days=20, hours=2))]}  # nothing happens there
    series = {"s": read_csv(hourly_csv(3, shift=(15 * 24, 5, 1.5)))}  # something happens elsewhere
    result = run_backtest(series, labels, direction="up", tz_offset_s=0)
    assert result.recall == 0.0
    assert result.false_alerts == 1 and result.precision == 0.0
    assert result.false_alerts_per_day == pytest.approx(1 / (21 - 1 / 24), rel=1e-3)


def test_backtest_monitor_scores_the_production_monitor_on_kpi_snapshots():
    snaps = list(rolling_timeout(11, per_hour=3000, minutes=300, incident=(120, 45, 0.40)))
    quiet = list(rolling_timeout(12, per_hour=3000, minutes=300, team="tech"))
    start = T0 + timedelta(minutes=120)
    labels = {("60m|billing|*|*", "timeout_rate"): [(start, start + timedelta(minutes=45))]}
    pairs = [(s, ()) for pair in zip(snaps, quiet, strict=True) for s in pair]
    result = backtest_monitor(pairs, labels, lambda: build_monitor(Settings()), kpis=["timeout_rate"])
    assert len(result.series) == 2
    assert result.recall == 1.0 and result.false_alerts == 0
    assert 30 <= result.delay_median <= 60  # minutes of 1-minute windows
