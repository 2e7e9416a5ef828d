"""Backtests: run the detectors causally over history and score them against labelled incidents.

Two entry points, one result type:

- :func:`run_backtest` — any series of ``(timestamp, value)`` rows (e.g. a CSV a
  contact center exported, read with :func:`read_csv`), scored against anomaly
  windows in the Numenta Anomaly Benchmark's JSON format (:func:`read_labels`).
- :func:`backtest_monitor` — KPI snapshots (e.g. the simulator replayed through
  the flow's steps) through the production monitor, scored against the
  simulator's incidents.

Scoring is event-level: a labelled window is *detected* when an anomaly fires
between its start and its end plus ``tolerance``; the delay is from the window's
start to that first firing, in windows of the series. A firing outside every
(extended) window is a *false alert*. Precision = firing alerts that fell in a
window / all firing alerts; recall = detected windows / windows; false alerts are
also given per series-day.

The module reads text, not files (``detectors/`` does no I/O): the ``sqm
backtest`` command reads the files and passes their contents.

>>> rows = read_csv("timestamp,value\\n" + "\\n".join(
...     f"2026-03-0{2 + d}T{h:02d}:{m:02d}:00+08:00,{(30.0 if d == 2 and 10 <= h < 12 else 10.0) + (m % 7) * 0.1}"
...     for d in range(3) for h in range(24) for m in range(0, 60, 5)))
>>> labels = read_labels('{"x.csv": [["2026-03-04 02:00:00.000000", "2026-03-04 04:00:00.000000"]]}', name="x.csv")
>>> result = run_backtest({"x.csv": rows}, {"x.csv": labels})
>>> result.recall, result.precision, result.false_alerts
(1.0, 1.0, 0)
>>> result.delay_median
2.0
"""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import PurePosixPath
from typing import Literal

from detectors.base import Detector, Evidence, Observation
from detectors.decision import IncidentRule
from detectors.monitor import KpiMonitor
from detectors.seasonal import SeasonalBaseline
from detectors.swing import SwingDetector
from sqm.models import KpiSnapshot

Row = tuple[datetime, float]
Window = tuple[datetime, datetime]


# --- reading --------------------------------------------------------------------------
def _time(text: str) -> datetime:
    t = datetime.fromisoformat(text.strip().replace(" ", "T", 1) if "T" not in text else text.strip())
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)  # NAB times are naive UTC


def read_csv(text: str) -> list[Row]:
    """``timestamp,value`` rows (a header row is skipped; naive times are UTC), in time order."""
    rows: list[Row] = []
    for i, rec in enumerate(csv.reader(io.StringIO(text))):
        if not rec or not rec[0].strip():
            continue
        try:
            rows.append((_time(rec[0]), float(rec[1])))
        except (ValueError, IndexError) as err:
            if i == 0:
                continue  # the header
            msg = f"line {i + 1}: expected `timestamp,value`, got {','.join(rec)!r}: {err}"
            raise ValueError(msg) from err
    rows.sort(key=lambda r: r[0])
    return rows


def read_labels(text: str, name: str | None = None) -> list[Window]:
    """Anomaly windows from NAB's JSON (``{"file.csv": [[start, end], ...]}``) or a bare list.

    With several files in the JSON, ``name`` picks one (by path or base name).
    """
    data = json.loads(text)
    if isinstance(data, dict):
        if name is not None:
            base = PurePosixPath(name).name
            keys = [k for k in data if k == name or PurePosixPath(k).name == base]
            if not keys:
                msg = f"labels: no entry for {name!r} (have {len(data)} files)"
                raise ValueError(msg)
            data = data[keys[0]]
        elif len(data) == 1:
            data = next(iter(data.values()))
        else:
            msg = f"labels: {len(data)} files in the JSON; say which one (name=...)"
            raise ValueError(msg)
    return [(_time(a), _time(b)) for a, b in data]


# --- results --------------------------------------------------------------------------
@dataclass
class SeriesResult:
    """One series' score."""

    name: str
    windows: int
    detected: int
    alerts: int
    false_alerts: int
    days: float
    delays: list[float] = field(default_factory=list)
    """Per detected window: windows of the series from its start to the first firing."""
    delays_s: list[float] = field(default_factory=list)


@dataclass
class BacktestResult:
    """Event-level precision/recall, delays and false alerts over all series."""

    series: list[SeriesResult]

    @property
    def windows(self) -> int:
        return sum(s.windows for s in self.series)

    @property
    def alerts(self) -> int:
        return sum(s.alerts for s in self.series)

    @property
    def false_alerts(self) -> int:
        return sum(s.false_alerts for s in self.series)

    @property
    def recall(self) -> float | None:
        w = self.windows
        return sum(s.detected for s in self.series) / w if w else None

    @property
    def precision(self) -> float | None:
        a = self.alerts
        return (a - self.false_alerts) / a if a else None

    @property
    def false_alerts_per_day(self) -> float:
        days = sum(s.days for s in self.series)
        return self.false_alerts / days if days > 0 else 0.0

    def _delays(self, seconds: bool) -> list[float]:
        return sorted(d for s in self.series for d in (s.delays_s if seconds else s.delays))

    @property
    def delay_median(self) -> float | None:
        d = self._delays(False)
        return statistics.median(d) if d else None

    @property
    def delay_p90(self) -> float | None:
        return _quantile(self._delays(False), 0.9)

    @property
    def delay_median_s(self) -> float | None:
        d = self._delays(True)
        return statistics.median(d) if d else None

    @property
    def delay_p90_s(self) -> float | None:
        return _quantile(self._delays(True), 0.9)

    def to_dict(self) -> dict[str, object]:
        return {
            "series": len(self.series),
            "windows": self.windows,
            "recall": self.recall,
            "precision": self.precision,
            "alerts": self.alerts,
            "false_alerts": self.false_alerts,
            "false_alerts_per_series_day": round(self.false_alerts_per_day, 4),
            "delay_windows_median": self.delay_median,
            "delay_windows_p90": self.delay_p90,
            "delay_minutes_median": _minutes(self.delay_median_s),
            "delay_minutes_p90": _minutes(self.delay_p90_s),
        }

    def table(self) -> str:
        """A plain-text report, one line per series and a total."""

        def pct(v: float | None) -> str:
            return "—" if v is None else f"{v * 100:.0f}%"

        lines = [
            f"{'series':<32} {'windows':>7} {'found':>5} {'alerts':>6} {'false':>5} {'false/day':>9} {'delay med':>9}"
        ]
        for s in self.series:
            med = statistics.median(s.delays) if s.delays else None
            lines.append(
                f"{s.name[:32]:<32} {s.windows:>7} {s.detected:>5} {s.alerts:>6} {s.false_alerts:>5} "
                f"{(s.false_alerts / s.days if s.days else 0):>9.3f} {('—' if med is None else f'{med:g}'):>9}"
            )
        lines.append(
            f"total: recall {pct(self.recall)}, precision {pct(self.precision)}, "
            f"{self.false_alerts_per_day:.3f} false alerts per series-day, delay median {self.delay_median} / "
            f"p90 {self.delay_p90} windows ({_minutes(self.delay_median_s)} / {_minutes(self.delay_p90_s)} min)"
        )
        return "\n".join(lines)


def _quantile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    k = min(len(values) - 1, max(0, math.ceil(q * len(values)) - 1))
    return sorted(values)[k]


def _minutes(s: float | None) -> float | None:
    return None if s is None else round(s / 60, 1)


def score_alerts(
    name: str,
    fired: Sequence[datetime],
    labels: Sequence[Window],
    first: datetime,
    last: datetime,
    step_s: float,
    tolerance: timedelta,
) -> SeriesResult:
    """Event-level scoring of one series' firing times against its labelled windows."""
    detected = 0
    delays: list[float] = []
    delays_s: list[float] = []
    inside = [False] * len(fired)
    for a, b in labels:
        hits = [i for i, t in enumerate(fired) if a <= t <= b + tolerance]
        for i in hits:
            inside[i] = True
        if hits:
            detected += 1
            d = (fired[hits[0]] - a).total_seconds()
            delays_s.append(d)
            delays.append(round(d / step_s, 2) if step_s > 0 else 0.0)
    days = max((last - first).total_seconds(), step_s) / 86400
    return SeriesResult(name, len(labels), detected, len(fired), inside.count(False), days, delays, delays_s)


# --- running ---------------------------------------------------------------------------
def _decision_score(ev: Evidence | None, detector: Detector, z_min: float, min_change: float) -> float:
    """Bring a detector's evidence to the decision layer's scale (1 = breach)."""
    if ev is None:
        return 0.0
    if isinstance(detector, SwingDetector):
        return ev.score
    direction = getattr(detector, "direction", "both")
    z, change = ev.z, ev.change
    if direction == "down":
        z, change = -z, -change
    elif direction == "both":
        z, change = abs(z), abs(change)
    if z <= 0:
        return 0.0
    score = z / z_min
    return min(score, change / min_change) if min_change > 0 else score


def run_backtest(
    series: Mapping[str, Sequence[Row]],
    labels: Mapping[str, Sequence[Window]] | None = None,
    *,
    detector: Literal["seasonal"] = "seasonal",
    direction: Literal["up", "down", "both"] = "both",
    z_min: float = 3.5,
    min_change: float = 0.0,
    persistence: int = 3,
    persistence_of: int | None = None,
    clear_windows: int | None = None,
    grace_period: int = 48,
    adapt_after: int = 48,
    tz_offset_s: float = 8 * 3600.0,
    tolerance: timedelta | None = None,
) -> BacktestResult:
    """Run one detector per series causally (score, decide, then learn) and score the firings.

    ``series`` maps a name to ``(timestamp, value)`` rows in time order; ``labels``
    maps the same names to anomaly windows. The ``seasonal`` detector
    (:class:`~detectors.seasonal.SeasonalBaseline`) needs no ``n`` (the swing rule
    does: use :func:`backtest_monitor` with KPI snapshots). Windows
    are judged with ``z_min`` robust sd and an optional ``min_change`` (relative),
    ``persistence`` of ``persistence_of`` windows; an incident that lasts
    ``adapt_after`` windows is learned as the new level. ``tolerance`` extends each
    label window's end (default: 10 % of the window's length, NAB-like).
    """
    if detector != "seasonal":
        msg = f"detector: only 'seasonal' runs on bare (timestamp, value) series, got {detector!r}"
        raise ValueError(msg)
    out: list[SeriesResult] = []
    for name, rows in series.items():
        if not rows:
            continue
        step = _step(rows)
        det = SeasonalBaseline(direction=direction, grace_period=grace_period, tz_offset_s=tz_offset_s, z_min=z_min)
        rule = IncidentRule(k=persistence, m=persistence_of, clear_windows=clear_windows)
        fired: list[datetime] = []
        for t, y in rows:
            x: Observation = {"y": y, "n": 1.0, "start": t.timestamp() - step, "end": t.timestamp()}
            ev = det.explain_one(x)
            score = _decision_score(ev, det, z_min, min_change)
            was = rule.suspect
            event = rule.step(x["end"], score, "warning", learning=ev is None)
            if event == "fire":
                fired.append(t)
            if rule.suspect and not was and isinstance(det, SwingDetector):
                det.discard_pending()
            if not rule.suspect or (rule.phase == "firing" and rule.windows >= adapt_after):
                det.learn_one(x)
        wins = list((labels or {}).get(name, ()))
        out.append(
            score_alerts(
                name,
                fired,
                wins,
                rows[0][0],
                rows[-1][0],
                step,
                tolerance if tolerance is not None else _tolerance(wins),
            )
        )
    return BacktestResult(out)


def _step(rows: Sequence[Row]) -> float:
    gaps = sorted((b[0] - a[0]).total_seconds() for a, b in zip(rows, rows[1:], strict=False))
    return statistics.median(gaps) if gaps else 60.0


def _tolerance(windows: Sequence[Window]) -> timedelta:
    if not windows:
        return timedelta(0)
    return timedelta(seconds=0.1 * statistics.median((b - a).total_seconds() for a, b in windows))


def backtest_monitor(
    snapshots: Iterable[tuple[KpiSnapshot, Sequence[KpiSnapshot]]],
    labels: Mapping[tuple[str, str], Sequence[Window]],
    monitor_factory: object,
    *,
    kpis: Iterable[str] | None = None,
    tolerance: timedelta | None = None,
) -> BacktestResult:
    """Feed ``(snapshot, children)`` pairs through one monitor per series and score the firings.

    ``labels`` maps ``(series id, kpi)`` (e.g. ``("60m|billing|*|*", "timeout_rate")``)
    to incident windows; every (series, KPI) seen gets a result line, labelled or
    not, so false alerts on quiet series count. ``monitor_factory()`` builds a
    monitor (``lambda: build_monitor(settings)``). ``tolerance`` extends each
    incident's end; by default by the window's length (a rolling 60-minute window
    still holds the incident for an hour after it ended).
    """
    monitors: dict[str, KpiMonitor] = {}
    fired: dict[tuple[str, str], list[datetime]] = {}
    span: dict[str, list[datetime]] = {}
    steps: dict[str, float] = {}
    lengths: dict[str, timedelta] = {}
    watched = set(kpis) if kpis is not None else None
    for snap, children in snapshots:
        mon = monitors.get(snap.series)
        if mon is None:
            mon = monitors[snap.series] = monitor_factory()  # type: ignore[operator]
            span[snap.series] = [snap.end, snap.end]
            lengths[snap.series] = snap.end - snap.start
        gap = (snap.end - span[snap.series][1]).total_seconds()
        if gap > 0:
            steps[snap.series] = min(steps.get(snap.series, gap), gap)
        span[snap.series][1] = snap.end
        for a in mon.update(snap, children):
            if a.status == "firing" and (watched is None or a.kpi in watched):
                key = (snap.series, a.kpi)
                if a.incident_start is not None and key in fired and fired[key] and a.incident_start <= fired[key][-1]:
                    continue  # an escalation of the same incident
                fired.setdefault(key, []).append(a.end)
    out: list[SeriesResult] = []
    for series_id, mon in monitors.items():
        for kpi in mon.tracks:
            if watched is not None and kpi not in watched:
                continue
            key = (series_id, kpi)
            first, last = span[series_id]
            step = steps.get(series_id, 60.0)
            tol = tolerance if tolerance is not None else lengths[series_id]
            out.append(
                score_alerts(f"{series_id}:{kpi}", fired.get(key, []), labels.get(key, ()), first, last, step, tol)
            )
    return BacktestResult(out)
