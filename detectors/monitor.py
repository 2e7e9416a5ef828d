"""The per-series monitor the dataflow runs: snapshots in, anomalies out.

One :class:`KpiMonitor` holds everything sqm knows about ONE series (one window x
team x channel x region, all its KPIs): a detector and an incident rule per
watched KPI, and light baselines of the child series for the drill-down. The
dataflow keeps it as bytewax state (it pickles small) and feeds it that series'
final snapshots in window order::

    monitor = build_monitor(settings)
    anomalies = monitor.update(snapshot, children=child_snapshots)

Per KPI and window: score first (vs the baseline, which never contains the
current incident), then decide (persistence, hysteresis, warm-up), then learn
unless the window is suspect. An incident yields one ``firing`` Anomaly, a new
``firing`` one only if its severity rises, and one ``resolved`` at the end, all
with the same ``incident_start``. A level shift that lasts ``adapt_after_minutes``
is learned as the new normal: the incident then resolves instead of firing forever.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import MISSING, dataclass, field, fields
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from detectors.base import Z2_CAP, Evidence, Observation, observation, running_mean
from detectors.cusum import RateCusum
from detectors.decision import IncidentRule, Phase
from detectors.drilldown import Child, child_dimension, rank
from detectors.noise import carry, cv_of, kind_of, rhythm_factor
from detectors.reasons import firing_reason, resolved_reason
from detectors.seasonal import SeasonalBaseline
from detectors.sla import TARGET_KPIS, TargetRule
from detectors.swing import SwingDetector
from sqm.config import Settings
from sqm.formatting import format_value
from sqm.models import KPIS, Anomaly, Contributor, KpiSnapshot

MAX_CHILDREN = 64
DRIFT_COLD_START_S = 86400.0
"""The hour-of-week second opinion speaks only after a day of history."""
RHYTHM_DELAY_S = 2 * 3600.0
"""The rhythm learns a window this long after it ended (a change is judged against a rhythm that has not seen it)."""
RHYTHM_STEP_S = 300.0
"""One window per this many seconds waits for the rhythm (it learns per hour of data: the same weight)."""
RHYTHM_WAIT_MAX = 288
"""At most a day of windows waits for the rhythm (one per RHYTHM_STEP_S)."""
FAST_WARMUP = 120
"""Fast windows judge once this many of them (one a minute) measured their own noise."""
FAST_MEMORY = 1440
"""The measured noise of a fast window is a running mean over about this many windows (a day of minutes)."""
EVIDENCE_COLD_START_S = 86400.0
"""Per-minute evidence counts only a day after a series' first window: after a cold start, rates fed by
long targets (e-mail's 2 h) climb for hours, and a sequential test adds any climb up to an alarm."""


@dataclass(frozen=True, slots=True)
class KpiRule:
    """How one KPI is watched (built from ``settings.detectors``)."""

    kpi: str
    swing: float
    direction: Literal["up", "down", "both"]
    min_n: int
    kind: str
    cv: float
    cold_start_s: float = 0.0
    """No alert until this long after the series' first window (late events still arriving)."""
    detector: Literal["swing", "seasonal"] = "swing"
    """``seasonal``: judge against the hour-of-week baseline (for KPIs with a strong rhythm, e.g. volume)."""


@dataclass(slots=True)
class _Track:
    rule: KpiRule
    detector: SwingDetector | SeasonalBaseline
    incident: IncidentRule
    children: dict[tuple[str, str, str], tuple[float, float]] = field(default_factory=dict)
    """Per child series (team, channel, region): its running expected value and weight."""
    last: Evidence | None = None
    last_value: float | None = None
    peak: float | None = None
    drift: SeasonalBaseline | None = None
    rhythm: SeasonalBaseline | None = None
    """The KPI's hour-of-week rhythm: scales the rolling baseline from its time to the window's."""
    cusum: RateCusum | None = None
    owner: str = "swing"
    rebased: bool = False
    recent: deque[tuple[float, float, float, float]] | None = None
    """The evidence window's latest snapshots (start, end, value, n): the fast windows are made of them."""
    span: float = 0.0
    """Length (s) of the fast window the firing value is from; 0: the detector window."""
    rhythm_wait: deque[Observation] | None = None
    """Windows (one per RHYTHM_STEP_S) the hour-of-week tables (rhythm, drift) learn once RHYTHM_DELAY_S old."""
    held_since: float | None = None
    """When the CUSUM's evidence started building up (past a quarter of its threshold; the baseline holds still)."""
    fast_noise: list[tuple[float, int]] | None = None
    """Per fast window: running mean of its z^2 vs the baseline while the KPI was calm, and how many."""

    def __setstate__(self, state: tuple[None, dict[str, Any]]) -> None:
        """Unpickle; a track an older sqm pickled lacks the fields added since: they take their defaults."""
        slots = state[1]
        for f in fields(self):
            if f.name in slots:
                setattr(self, f.name, slots[f.name])
            elif f.default is not MISSING:
                setattr(self, f.name, f.default)
            else:
                setattr(self, f.name, f.default_factory())  # type: ignore[misc,operator]


@dataclass(slots=True)
class _SlaTrack:
    kpi: str
    min_n: int
    cold_start_s: float
    rule: TargetRule
    incident: IncidentRule
    peak: float | None = None


class KpiMonitor:
    """All detectors of one series; ``update(snapshot, children)`` returns its anomalies."""

    holidays: frozenset[int] = frozenset()
    """Site-local dates (ordinals) on which the seasonal KPIs are neither judged nor learned."""
    timezone: str | None = None
    tz_offset_s: float = 8 * 3600.0
    evidence_window: str | None = None
    """Snapshots of this window (e.g. ``1m``) make the fast windows and feed the CUSUMs; they are not judged."""
    last_evidence_end: float | None = None
    window_s: float = 0.0
    """Length of the detector window (from its last snapshot)."""
    cusum_trend: bool = True
    min_expected: float = 5.0
    fast_s: tuple[float, ...] = ()
    """Lengths (s) of the fast windows judged beside the detector window (made of evidence snapshots)."""

    def __init__(
        self,
        rules: Sequence[KpiRule],
        *,
        z_min: float = 3.5,
        min_expected: float = 5.0,
        overdispersion: float = 1.0,
        baseline_windows: int = 120,
        warmup_windows: int = 15,
        persistence: int = 3,
        persistence_of: int | None = None,
        clear_windows: int | None = None,
        clear_ratio: float = 0.5,
        critical_factor: float = 2.5,
        adapt_after_s: float = 4 * 3600.0,
        top_contributors: int = 3,
        drift: Sequence[str] = (),
        rhythm: Sequence[str] = (),
        cusum: Sequence[str] = (),
        cusum_h: float = 8.0,
        targets: Sequence[tuple[str, float, Literal["up", "down"], int, float]] = (),
        sla_k: int = 5,
        sla_m: int = 10,
        tz_offset_s: float = 8 * 3600.0,
        holidays: Sequence[date] = (),
        timezone: str | None = None,
        evidence_window: str | None = None,
        cusum_trend: bool = True,
        fast_windows: Sequence[int] = (),
        fast: Sequence[str] = (),
    ) -> None:
        self.evidence_window = evidence_window
        self.fast_s = tuple(sorted(60.0 * m for m in fast_windows)) if evidence_window is not None else ()
        self.cusum_trend = cusum_trend
        self.holidays = frozenset(d.toordinal() for d in holidays)
        self.timezone = timezone
        self.tz_offset_s = tz_offset_s
        self.critical_factor = critical_factor
        self.min_expected = min_expected
        self.adapt_after_s = adapt_after_s
        self.top_contributors = top_contributors
        self.child_alpha = 1.0 / baseline_windows
        self.last_end: float | None = None
        self.first_end: float | None = None
        self.tracks: dict[str, _Track] = {
            r.kpi: _Track(
                rule=r,
                detector=SwingDetector(
                    swing=r.swing,
                    direction=r.direction,
                    kind=r.kind,
                    z_min=z_min,
                    window_size=baseline_windows,
                    grace_period=warmup_windows,
                    cv=r.cv,
                    overdispersion=overdispersion,
                    min_expected=min_expected,
                )
                if r.detector == "swing"
                else SeasonalBaseline(
                    direction=r.direction,
                    grace_period=warmup_windows,
                    z_min=z_min,
                    tz_offset_s=tz_offset_s,
                    counts=r.kind == "count",
                ),
                incident=IncidentRule(
                    k=persistence, m=persistence_of, clear_windows=clear_windows, clear_score=clear_ratio
                ),
            )
            for r in rules
        }
        for kpi in cusum:
            track = self.tracks.get(kpi)
            r = track.rule if track is not None else None
            if track is not None and r is not None and r.detector == "seasonal" and r.kind == "count":
                # a Poisson CUSUM of the evidence windows' counts vs the hour-of-week expectation
                track.cusum = RateCusum(swing=r.swing, direction=r.direction, h=cusum_h, kind="count")
            elif track is not None and r is not None and r.detector == "swing" and r.direction != "both":
                kind = "ratio" if r.kind == "ratio" else "seconds"
                track.cusum = RateCusum(
                    swing=r.swing, direction=r.direction, h=cusum_h, kind=kind, cv=r.cv, min_expected=min_expected
                )
        for kpi in fast if self.fast_s else ():
            track = self.tracks.get(kpi)
            if track is not None and track.rule.detector == "swing" and track.rule.kind != "count":
                track.recent = deque()
        for kpi in rhythm:
            track = self.tracks.get(kpi)
            if track is not None and track.rule.detector == "swing":
                track.rhythm = SeasonalBaseline(
                    direction=track.rule.direction, grace_period=warmup_windows, tz_offset_s=tz_offset_s, any_day=True
                )
        for kpi in drift:
            track = self.tracks.get(kpi)
            if track is not None and track.rule.detector == "swing":
                track.drift = SeasonalBaseline(
                    direction=track.rule.direction, grace_period=warmup_windows, z_min=z_min, tz_offset_s=tz_offset_s,
                    kind=track.rule.kind, cv=track.rule.cv,
                )
        self.sla: dict[str, _SlaTrack] = {
            kpi: _SlaTrack(kpi, min_n, cold, TargetRule(target, direction), IncidentRule(sla_k, sla_m, sla_k, 1.0))
            for kpi, target, direction, min_n, cold in targets
        }

    # --- the interface --------------------------------------------------------
    def update(self, snapshot: KpiSnapshot, children: Sequence[KpiSnapshot] = ()) -> list[Anomaly]:
        """Feed the next final snapshot of this series; returns the anomalies it causes.

        Provisional snapshots (``final=False``) and snapshots not later than the
        last one (a replay after recovery) are ignored, so feeding twice is harmless.
        ``children`` are the same window's snapshots one level below (the team's
        channels and regions); they are optional and feed the drill-down.
        """
        if not snapshot.final:
            return []
        if self.evidence_window is not None and snapshot.window == self.evidence_window:
            self._evidence(snapshot)
            return []
        end = snapshot.end.timestamp()
        if self.last_end is not None and end <= self.last_end:
            return []
        self.last_end = end
        self.window_s = end - snapshot.start.timestamp()
        if self.first_end is None:
            self.first_end = end
        out: list[Anomaly] = []
        holiday = self.is_holiday(snapshot)
        for kpi, track in self.tracks.items():
            seasonal_holiday = holiday and track.rule.detector == "seasonal"
            anomaly = self._update_kpi(kpi, track, snapshot, children, holiday=seasonal_holiday)
            if anomaly is not None:
                out.append(anomaly)
        for sla in self.sla.values():
            anomaly = self._update_sla(sla, snapshot, end)
            if anomaly is not None:
                out.append(anomaly)
        return out

    def _evidence(self, snap: KpiSnapshot) -> None:
        """A window of the evidence series (e.g. each minute): its contacts go into the CUSUMs.

        Tumbling windows do not overlap, so summing their log-likelihood ratios is
        the per-contact sequential test, tested against the detector window's
        protected baseline; the detector window's next snapshot reads the sum.
        """
        end = snap.end.timestamp()
        if self.last_evidence_end is not None and end <= self.last_evidence_end:
            return
        self.last_evidence_end = end
        holiday = self.is_holiday(snap)
        age = end - (self.first_end if self.first_end is not None else end)
        for kpi, track in self.tracks.items():
            det, y = track.detector, snap.kpis.get(kpi)
            if track.recent is not None and y is not None:
                self._remember(track, snap.start.timestamp(), end, float(y), float(snap.n.get(kpi, snap.n.get("volume", 0))))
            cold = age < max(track.rule.cold_start_s, EVIDENCE_COLD_START_S)
            if track.cusum is None or y is None or det.learning or cold:
                continue  # (a cold KPI's baseline is still climbing: its evidence would add up to an alarm)
            x = observation(y, snap.n.get(kpi, snap.n.get("volume", 0)), snap.start, snap.end)
            if isinstance(det, SwingDetector):
                # no evidence against a baseline that is itself moving by more than half a swing
                # (a KPI climbing after a cold start, e.g. e-mail timeouts before their 2-hour target)
                base = det.baseline(x["start"]) if det.settled else None
                if base is not None:
                    mid, half = (x["start"] + x["end"]) / 2, max(self.window_s, x["end"] - x["start"]) / 2
                    w: Observation = {"start": mid - half, "end": mid + half}
                    w["rhythm"] = _rhythm_factor(track, det, w, age)
                    factor = det.rhythm_in_use(w)
                    expected = carry(det.kind, base[0], factor)
                    # the baseline's own slope, where no rhythm carries it to this minute (with one, the slope
                    # would count the day's rise twice, and while the baseline holds still it grows every minute)
                    trend = det.trend(x["start"], x["end"]) if self.cusum_trend and factor == 1.0 else 0.0
                    track.cusum.learn_one(
                        {**x, "expected": expected, "n_base": base[1], "trend": trend, "noise": det.noise_at(x["end"])}
                    )
                continue
            # a count vs this time of the week: the detector window centred on this one, scaled to its length
            if holiday or self.window_s <= 0:
                continue
            mid, half = (x["start"] + x["end"]) / 2, self.window_s / 2
            probe: Observation = {"start": mid - half, "end": mid + half}
            if det.known(probe):
                expected = det.expected_one(probe)
                spread = det.spread_one(probe) / max(expected, 1.0)
                scaled = expected * (x["end"] - x["start"]) / self.window_s
                track.cusum.learn_one({**x, "n": 1, "expected": scaled, "spread": spread})

    def _remember(self, track: _Track, start: float, end: float, y: float, n: float) -> None:
        recent = track.recent
        assert recent is not None
        recent.append((start, end, y, n))
        while recent and recent[0][1] <= end - self.fast_s[-1]:
            recent.popleft()

    def _fast_windows(self, track: _Track, end: float) -> list[tuple[int, Observation]]:
        """(index in ``fast_s``, window) for the fast windows ending at ``end``, each pooled from the evidence
        snapshots inside it (n-weighted)."""
        out: list[tuple[int, Observation]] = []
        recent = track.recent
        if not recent or recent[-1][1] != end:
            return out  # this minute's evidence did not come (not fed, or no contacts)
        for i, length in enumerate(self.fast_s):
            n = yn = 0.0
            for start_e, _end_e, y, n_e in reversed(recent):
                if start_e < end - length:
                    break
                n += n_e
                yn += y * n_e
            if n > 0:
                out.append((i, {"y": yn / n, "n": n, "start": end - length, "end": end}))
        return out

    def _judge_fast(
        self, track: _Track, det: SwingDetector, end: float, age: float, fast_z: list[tuple[int, float]]
    ) -> list[tuple[Observation, Evidence]]:
        """The fast windows (the last 5, 15 minutes) scored against the detector window's baseline.

        A large step is seen in minutes, not when it has filled the rolling hour. Each
        window is judged with the noise it showed while the KPI was calm (minutes are
        burstier than hours: queues build up and drain, more than the sampling model
        and the rolling hour's own noise say), and only once FAST_WARMUP of them
        measured it. Appends each window's z at the rolling hour's noise to ``fast_z``
        (what it learns, if the KPI stays calm); returns those that may judge.
        """
        noise = track.fast_noise
        if noise is None:
            noise = track.fast_noise = [(1.0, 0)] * len(self.fast_s)
        judged = []
        for i, x_f in self._fast_windows(track, end):
            if x_f["n"] < track.rule.min_n:
                continue
            factor = _rhythm_factor(track, det, x_f, age)
            if factor != 1.0:
                x_f["rhythm"] = factor
            x_f["noise"] = noise[i][0]
            ev_f = det.explain_one(x_f)
            if ev_f is None:
                continue
            fast_z.append((i, ev_f.z * math.sqrt(max(1.0, noise[i][0]))))
            if noise[i][1] >= FAST_WARMUP:
                judged.append((x_f, ev_f))
        return judged

    @staticmethod
    def _learn_late(track: _Track, x: Observation | None, end: float, *, paused: bool) -> None:
        """The hour-of-week tables (rhythm, drift) are what every day looks like: they learn each window
        ``x`` RHYTHM_DELAY_S after it ended.

        Learned at once, an hour slot seen on one earlier day would take half of this
        hour's values, a starting incident (or a drift) included, and hide it. While an
        incident of the KPI is open (``paused``) the windows wait; they are learned once
        it resolves or is adapted to: what recurs every night is rhythm, even if it fired
        the first time.
        """
        waiting = track.rhythm_wait
        if waiting is None:
            waiting = track.rhythm_wait = deque(maxlen=RHYTHM_WAIT_MAX)
        if x is not None and (not waiting or x["end"] - waiting[-1]["end"] >= RHYTHM_STEP_S):
            waiting.append(x)
        while waiting and waiting[0]["end"] <= end - RHYTHM_DELAY_S and not paused:
            late = waiting.popleft()
            for table in (track.rhythm, track.drift):
                if table is not None:
                    table.learn_one(late)

    def _held(self, track: _Track, end: float, n: float, expected: float | None) -> bool:
        """Whether the KPI's baseline holds still because its CUSUM's evidence is building up.

        A small lasting shift (+20 % timeouts) needs hours of contacts to be sure of;
        a rolling baseline that kept learning would take it in before the evidence
        is complete. After ``adapt_after_s`` of holding without an alarm it learns again.
        It holds only while the series' pace (``n`` a window) could complete the evidence
        for a change of the swing within ``adapt_after_s``: at night, or in a small team,
        it cannot, and a baseline held still while the night's rise differed from the
        nights before gave the swing rule a stale baseline to fire against.
        """
        contacts = n * self.adapt_after_s / self.window_s if self.window_s > 0 else 0.0
        if (
            track.cusum is None
            or not track.cusum.building
            or expected is None
            or not track.cusum.findable(expected, contacts)
        ):
            track.held_since = None
            return False
        if track.held_since is None:
            track.held_since = end
        return end - track.held_since < self.adapt_after_s

    def is_holiday(self, snapshot: KpiSnapshot) -> bool:
        """Whether the window touches a site-local date of the holiday calendar (``detectors.holidays``)."""
        if not self.holidays:
            return False
        return any(
            _local_ordinal(t, self.timezone, self.tz_offset_s) in self.holidays
            for t in (snapshot.start.timestamp(), snapshot.end.timestamp() - 1.0)
        )

    @property
    def phases(self) -> dict[str, Phase]:
        """Per KPI: ``learning`` (warming up), ``normal``, ``pending`` (breaching, not yet k) or ``firing``."""
        return {kpi: t.incident.phase for kpi, t in self.tracks.items()}

    # --- the SLA target rule ---------------------------------------------------
    def _update_sla(self, sla: _SlaTrack, snap: KpiSnapshot, end: float) -> Anomaly | None:
        y = snap.kpis.get(sla.kpi)
        n = snap.n.get(sla.kpi, snap.n.get("volume", 0))
        ev = sla.rule.explain_one({"y": y, "n": n}) if y is not None else None
        cold = end - (self.first_end or end) < sla.cold_start_s
        inc = sla.incident
        event = inc.step(
            end,
            ev.score if ev is not None else 0.0,
            "warning",
            eligible=y is not None and n >= sla.min_n,
            learning=cold,
        )
        if y is not None and (inc.phase == "firing" or event == "resolve"):
            sign = 1.0 if sla.rule.direction == "up" else -1.0
            if sla.peak is None or sign * (y - sla.peak) > 0:
                sla.peak = y
        if event is None or event == "escalate":
            return None
        target = sla.rule.target
        if y is None or ev is None:  # resolved on a window without a value
            y = sla.peak if sla.peak is not None else target
            ev = sla.rule.explain_one({"y": y, "n": n})
            assert ev is not None
        side_en, side_zh = ("above", "高于") if sla.rule.direction == "up" else ("below", "低于")
        if event == "fire":
            start_s = inc.incident_start
            what_en = f"{side_en} target {format_value(sla.kpi, target, 'en', alongside=(y,))} in {inc.k} of the last {inc.m} windows"
            what_zh = f"{side_zh}目标 {format_value(sla.kpi, target, 'zh', alongside=(y,))}（近{inc.m}个窗口中{inc.k}个）"
            en = firing_reason(sla.kpi, y, None, what=what_en)[0]
            zh = firing_reason(sla.kpi, y, None, what=what_zh)[1]
        else:
            start_s = inc.ended[0] if inc.ended else None
            minutes = (end - (start_s if start_s is not None else end)) / 60
            en, zh = resolved_reason(sla.kpi, y, None, peak=sla.peak, minutes=minutes)
            en = en.replace(" after", f" (target {format_value(sla.kpi, target, 'en', alongside=(y,))}) after", 1)
            zh = zh.replace("，持续", f"（目标 {format_value(sla.kpi, target, 'zh', alongside=(y,))}），持续", 1)
            sla.peak = None
        return Anomaly(
            kpi=sla.kpi,
            **_where(snap),
            value=float(y),
            expected=target,
            lower=target if sla.rule.direction == "down" else None,
            upper=target if sla.rule.direction == "up" else None,
            change_pct=round(ev.change * 100, 2),
            score=round(ev.score, 4),
            n=int(n),
            severity="warning",
            direction=sla.rule.direction,
            detector="sla",
            status="firing" if event == "fire" else "resolved",
            incident_start=_at(start_s),
            reason_en=en,
            reason_zh=zh,
        )

    # --- one KPI --------------------------------------------------------------
    def _update_kpi(
        self, kpi: str, track: _Track, snap: KpiSnapshot, children: Sequence[KpiSnapshot], *, holiday: bool = False
    ) -> Anomaly | None:
        """Score, decide, learn one KPI; on a ``holiday`` it is neither judged nor learned (phase "learning")."""
        rule, det, inc = track.rule, track.detector, track.incident
        y = snap.kpis.get(kpi)
        n = snap.n.get(kpi, snap.n.get("volume", 0))
        x = observation(y, n, snap.start, snap.end) if y is not None else None
        end = x["end"] if x is not None else snap.end.timestamp()
        age = end - (self.first_end or end)
        unseen = False  # after the first day, an hour the rhythm never saw: not judged
        if x is not None and isinstance(det, SwingDetector):
            factor, unseen = _rhythm(track, det, x, age)
            if factor != 1.0:
                x["rhythm"] = factor
        ev = det.explain_one(x) if x is not None else None
        was_suspect = inc.suspect
        cold = age < rule.cold_start_s
        unseen = unseen and inc.phase != "firing"
        if isinstance(det, SeasonalBaseline):
            score = decision_score(ev, rule.direction, det.z_min, rule.swing)
        else:
            score = ev.score if ev is not None else 0.0
        owner: str = rule.detector
        shown, span = y, 0.0
        fast_z: list[tuple[int, float]] = []
        if track.recent and isinstance(det, SwingDetector) and x is not None and not det.learning:
            for x_f, ev_f in self._judge_fast(track, det, end, age, fast_z):
                if ev_f.score > score:
                    score, ev, shown, span = ev_f.score, ev_f, x_f["y"], x_f["end"] - x_f["start"]
        # the second opinion: the same window vs this hour of earlier days (catches slow drifts
        # that a rolling baseline follows); it speaks only after its own day of history
        if track.drift is not None and x is not None and age >= DRIFT_COLD_START_S and not cold:
            ev2 = track.drift.explain_one(x)
            score2 = decision_score(ev2, rule.direction, track.drift.z_min, rule.swing)
            if ev2 is not None and rule.kind == "ratio" and self.min_expected > 0:
                bad = 1.0 - ev2.expected if rule.direction == "down" else ev2.expected
                if n * bad < self.min_expected:  # a handful of complaints expected: no drift to speak of
                    score2 = 0.0
            use_second = track.owner == "seasonal" if inc.phase == "firing" else score2 > score
            if use_second and ev2 is not None:
                score, ev, owner = score2, ev2, "seasonal"
        # the sequential opinion: evidence added up over non-overlapping windows vs the same baseline
        x_c = None
        if track.cusum is not None and x is not None and not det.learning:
            if isinstance(det, SwingDetector):
                base = det.baseline(x["start"])
                x_c = {**x, "expected": base[0], "n_base": base[1], "noise": det.noise_at(x["end"])} if base is not None else None
            elif self.evidence_window is not None and det.known(x):
                x_c = {**x, "expected": det.expected_one(x)}
            if x_c is not None:
                if self.evidence_window is not None:  # the sum its evidence windows built; this one adds nothing
                    x_c = {**x_c, "n": 0}
                ev_c = track.cusum.explain_one(x_c)
                score_c = ev_c.score if ev_c is not None and not cold else 0.0
                use_c = track.owner == "cusum" if inc.phase == "firing" else score_c > score
                if use_c and ev_c is not None:
                    score, owner = score_c, "cusum"
                    ev = ev if ev is not None else ev_c
        severity = self._severity(rule, ev)
        event = inc.step(
            end,
            score,
            severity,
            eligible=y is not None and n >= rule.min_n,
            learning=holiday or (y is not None and (ev is None or cold or unseen)),
        )
        if event == "fire":
            track.owner = owner
        if event == "fire" or event == "escalate":
            track.span = span
        if track.cusum is not None:
            if x_c is not None and self.evidence_window is None:
                track.cusum.learn_one(x_c)
            if event == "resolve":
                track.cusum.reset()
            if inc.phase == "firing":
                track.cusum.discard_pending()  # the blocks it measured over the incident are not its noise
        was_held = track.held_since is not None
        held = self._held(track, end, n, ev.expected if ev is not None else None)
        if (inc.suspect or held) and not (was_suspect or was_held) and isinstance(det, SwingDetector):
            det.discard_pending()  # they overlap a suspect window: keep them out of the baseline
        if y is not None and shown is not None:
            track.last_value = shown
            if ev is not None:
                track.last = ev
            if inc.phase == "firing" or event == "resolve":
                sign = -1.0 if _bad_sign(rule, ev) < 0 else 1.0
                if track.peak is None or sign * (shown - track.peak) > 0:
                    track.peak = shown
        # learn (after scoring): not while suspect, unless a level shift has lasted long enough
        adapting = (
            inc.phase == "firing" and inc.incident_start is not None and end - inc.incident_start >= self.adapt_after_s
        )
        if isinstance(det, SwingDetector) and (adapting or event == "resolve"):
            det.skip_noise_before(end)  # what overlaps the incident is not the series' noise
        if x is not None and (not (inc.suspect or held) or adapting) and not holiday:
            if adapting and track.drift is not None and not track.rebased:
                track.drift.rebase(x)  # the new level is the normal now, for the hour-of-week opinion too
                track.rebased = True
            det.learn_one(x)
        if track.rhythm is not None or track.drift is not None:
            paused = (inc.suspect or held) and not adapting
            self._learn_late(track, x if not holiday and not cold else None, end, paused=paused)
        if not inc.suspect:
            track.rebased = False
            if fast_z and track.fast_noise is not None and not holiday:
                for i, z in fast_z:
                    track.fast_noise[i] = running_mean(track.fast_noise[i], min(z * z, Z2_CAP), FAST_MEMORY)
        if not inc.suspect and not holiday:
            self._learn_children(kpi, track, snap, children)
        if event is None:
            return None
        if event == "resolve":
            anomaly = self._anomaly(snap, track, ev, "resolved", severity)
            track.peak = None
            return anomaly
        contributors = self._contributors(kpi, track, snap, children, ev)
        return self._anomaly(snap, track, ev, "firing", inc.severity, contributors)

    def _severity(self, rule: KpiRule, ev: Evidence | None) -> str:
        """Critical when even the change minus 2 sd of noise exceeds critical_factor x swing."""
        if ev is None:
            return "warning"
        sure = _bad_sign(rule, ev) * ev.sure_change
        return "critical" if sure >= self.critical_factor * rule.swing else "warning"

    def _anomaly(
        self,
        snap: KpiSnapshot,
        track: _Track,
        ev: Evidence | None,
        status: Literal["firing", "resolved"],
        severity: str,
        contributors: Sequence[Contributor] = (),
    ) -> Anomaly:
        rule, inc = track.rule, track.incident
        ev = ev or track.last
        value = track.last_value if track.last_value is not None else 0.0
        expected = ev.expected if ev is not None else None
        lower = ev.lower if ev is not None else None
        upper = ev.upper if ev is not None else None
        if status == "firing":
            start_s = inc.incident_start
            en, zh = firing_reason(rule.kpi, value, expected, seasonal=track.owner == "seasonal",
                                   span_min=round(track.span / 60))
        else:
            start_s, severity = inc.ended or (None, severity)
            minutes = (snap.end.timestamp() - (start_s if start_s is not None else snap.end.timestamp())) / 60
            en, zh = resolved_reason(rule.kpi, value, expected, peak=track.peak, minutes=minutes)
        where = _where(snap)
        if status == "firing" and track.span:  # the value is the fast window's: its start
            where["start"] = snap.end - timedelta(seconds=track.span)
        return Anomaly(
            kpi=rule.kpi,
            **where,
            value=float(value),
            expected=expected,
            lower=lower,
            upper=upper,
            change_pct=round(ev.change * 100, 2) if ev is not None else None,
            score=round(ev.score, 4) if ev is not None else 0.0,
            n=int(snap.n.get(rule.kpi, snap.n.get("volume", 0))),
            severity=severity,  # type: ignore[arg-type]
            direction="up" if _bad_sign(rule, ev) > 0 else "down",
            detector=track.owner,
            status=status,
            incident_start=_at(start_s),
            reason_en=en,
            reason_zh=zh,
            contributors=tuple(contributors),
        )

    # --- drill-down -----------------------------------------------------------
    def _learn_children(self, kpi: str, track: _Track, snap: KpiSnapshot, children: Sequence[KpiSnapshot]) -> None:
        for child in children:
            dim = child_dimension(snap, child)
            v = child.kpis.get(kpi)
            if dim is None or v is None:
                continue
            old = track.children.get(child.dims)
            if old is None:
                if len(track.children) >= MAX_CHILDREN:
                    continue
                track.children[child.dims] = (float(v), 1.0)
            else:
                mean, w = old
                a = max(self.child_alpha, 1.0 / (w + 1.0))
                track.children[child.dims] = (mean + a * (float(v) - mean), w + 1.0)

    def _contributors(
        self, kpi: str, track: _Track, snap: KpiSnapshot, children: Sequence[KpiSnapshot], ev: Evidence | None
    ) -> list[Contributor]:
        if not children or self.top_contributors <= 0:
            return []
        fallback = ev.expected if ev is not None else None
        kids = []
        for child in children:
            dim = child_dimension(snap, child)
            if dim is None:
                continue
            known = track.children.get(child.dims)
            n = child.n.get(kpi, child.n.get("volume", 0))
            kids.append(Child(dim[0], dim[1], child.kpis.get(kpi), known[0] if known else fallback, n))
        return rank(kids, kind=track.rule.kind, sign=_bad_sign(track.rule, ev), top=self.top_contributors)


def _rhythm(track: _Track, det: SwingDetector, x: Observation, age: float) -> tuple[float, bool]:
    """How the KPI's hour-of-week rhythm moves it from the baseline's time to ``x``'s, and whether it cannot.

    After a day of history: :func:`detectors.noise.rhythm_factor` from the rhythm's
    expected value for a window at the baseline's (n-weighted) centre to its expected
    value for ``x`` (for a ratio, a factor on the odds); 1 before, or without a rhythm.
    The flag is True when, after that day, the rhythm has never seen the hour of ``x``
    or of the baseline: the hours of the series' cold start, which it did not learn.
    The first time they come round nothing knows how they differ from the hours
    before (night FCR dips, night timeouts rise), so the KPI is not judged there.
    """
    rh = track.rhythm
    if rh is None or rh.learning or age < DRIFT_COLD_START_S:
        return 1.0, False
    centre = det.centre(float(x["start"]))
    if centre is None:
        return 1.0, False
    half = (float(x["end"]) - float(x["start"])) / 2
    then: Observation = {"start": centre - half, "end": centre + half}
    if not (rh.known(x) and rh.known(then)):
        return 1.0, True
    return rhythm_factor(det.kind, rh.expected_one(x), rh.expected_one(then)), False


def _rhythm_factor(track: _Track, det: SwingDetector, x: Observation, age: float) -> float:
    """The factor of :func:`_rhythm` alone."""
    return _rhythm(track, det, x, age)[0]


def decision_score(ev: Evidence | None, direction: str, z_min: float, min_change: float) -> float:
    """A likelihood-style detector's evidence on the decision layer's scale (1 = breach):
    ``min(z / z_min, change / min_change)`` in the bad direction."""
    if ev is None:
        return 0.0
    z, change = ev.z, ev.change
    if direction == "down":
        z, change = -z, -change
    elif direction == "both":
        z, change = abs(z), abs(change)
    if z <= 0 or change <= 0:
        return 0.0
    return min(z / z_min, change / min_change) if min_change > 0 else z / z_min


def _bad_sign(rule: KpiRule, ev: Evidence | None) -> float:
    """+1 when up is bad, -1 when down is bad; for "both", the sign of the change."""
    if rule.direction == "down":
        return -1.0
    if rule.direction == "both" and ev is not None and ev.change < 0:
        return -1.0
    return 1.0


def rules_from(settings: Settings) -> list[KpiRule]:
    """One rule per KPI that has a swing in ``settings.detectors``."""
    d = settings.detectors
    rules = []
    for kpi, swing in d.swing.items():
        bad = KPIS[kpi].bad if kpi in KPIS else "both"
        direction = d.direction.get(kpi) or ("both" if bad == "none" else bad)
        cold = d.cold_start_minutes.get(kpi, d.cold_start_default_minutes) * 60.0
        kind = "seasonal" if kpi in d.seasonal else "swing"
        rules.append(
            KpiRule(kpi, swing, direction, d.min_n.get(kpi, d.min_volume), kind_of(kpi), cv_of(kpi), cold, kind)  # type: ignore[arg-type]
        )
    return rules


def build_monitor(settings: Settings) -> KpiMonitor:
    """A fresh monitor for one series, configured from ``settings.detectors``.

    >>> from sqm.config import Settings
    >>> monitor = build_monitor(Settings())
    >>> monitor.phases["timeout_rate"]
    'learning'
    """
    d = settings.detectors
    return KpiMonitor(
        rules_from(settings),
        z_min=d.z_min,
        min_expected=d.min_expected_count,
        overdispersion=d.overdispersion,
        baseline_windows=d.baseline_windows,
        warmup_windows=d.warmup_windows,
        persistence=d.persistence,
        persistence_of=d.persistence_of,
        clear_windows=d.clear_windows,
        clear_ratio=d.clear_ratio,
        critical_factor=d.critical_factor,
        adapt_after_s=d.adapt_after_minutes * 60.0,
        top_contributors=d.top_contributors,
        drift=d.drift,
        rhythm=d.rhythm,
        cusum=d.cusum,
        cusum_h=d.cusum_h,
        targets=targets_from(settings),
        sla_k=d.sla_k,
        sla_m=d.sla_m or 2 * d.sla_k,
        tz_offset_s=_site_offset_s(settings.alerts.timezone),
        holidays=d.holidays,
        timezone=settings.alerts.timezone,
        evidence_window=d.evidence_window if d.evidence_window != d.window else None,
        fast_windows=d.fast_windows,
        fast=d.fast,
    )


def _site_offset_s(tz: str) -> float:
    """The site's standard UTC offset (hours of day are the site's), 8 h if the zone is unknown."""
    try:
        offset = ZoneInfo(tz).utcoffset(datetime(2026, 1, 15, tzinfo=UTC))
    except (ZoneInfoNotFoundError, ValueError):
        return 8 * 3600.0
    return offset.total_seconds() if offset is not None else 0.0


@lru_cache(maxsize=8)
def _zone(tz: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _local_ordinal(epoch_s: float, tz: str | None, fallback_offset_s: float) -> int:
    """The site-local date of an instant, as a proleptic ordinal (``date.toordinal``)."""
    zone = _zone(tz) if tz else None
    if zone is not None:
        return datetime.fromtimestamp(epoch_s, zone).date().toordinal()
    return datetime.fromtimestamp(epoch_s + fallback_offset_s, UTC).date().toordinal()


def targets_from(settings: Settings) -> list[tuple[str, float, Literal["up", "down"], int, float]]:
    """(kpi, target, bad direction, min n, cold start s) for the KPIs in ``detectors.sla``."""
    d = settings.detectors
    out: list[tuple[str, float, Literal["up", "down"], int, float]] = []
    for kpi in d.sla:
        field_name, direction = TARGET_KPIS[kpi]
        cold = d.cold_start_minutes.get(kpi, d.cold_start_default_minutes) * 60.0
        out.append((kpi, float(getattr(settings.targets, field_name)), direction, d.min_n.get(kpi, d.min_volume), cold))
    return out


def _where(snap: KpiSnapshot) -> dict[str, Any]:
    """The window and dimensions of an anomaly about ``snap``."""
    return {"window": snap.window, "team": snap.team, "channel": snap.channel, "region": snap.region,
            "start": snap.start, "end": snap.end}


def _at(epoch_s: float | None) -> datetime | None:
    return datetime.fromtimestamp(epoch_s, UTC) if epoch_s is not None else None
