"""The three heartbeat checks as pure functions, and the synthetic anomalies they raise.

- *silence* of a series (``source:<name>``, ``team:<name>``): no arrival since ``last_seen``, while
  the seasonal model expected ``Λ`` arrivals in that stretch; it fires when the silence is at
  least ``min_silence_s`` and ``exp(-Λ) < alpha`` (``judge_silence``);
- *flow lag*: the flow's closed minutes (``closed_until`` in ``sqm:flow:stats``) more than
  ``flow_lag_s`` behind the wall clock while arrivals keep coming (``judge_flow_lag``);
- *alerter*: another alerter's heartbeat older than ``alerter_stale_s`` (``stale_alerters``).

Each check that fires is an ``Anomaly`` with ``detector=heartbeat``, routed, grouped, muted and
delivered like any other, and resolved when the check clears.

>>> v = judge_silence(expected=30.0, silence_s=600, alpha=0.001, min_silence_s=300)
>>> v.firing, f"{v.probability:.1e}"
(True, '9.4e-14')
>>> judge_silence(expected=0.4, silence_s=3 * 3600, alpha=0.001, min_silence_s=300).firing  # a quiet night
False
>>> judge_flow_lag(closed_until=1000.0, newest_arrival=2950.0, now_s=3000.0, bound_s=900).firing
True
>>> judge_flow_lag(closed_until=1000.0, newest_arrival=1500.0, now_s=3000.0, bound_s=900).firing  # no arrivals
False
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from alerts.heartbeats.seasonal import silence_probability
from sqm.config import HeartbeatSettings
from sqm.models import ALL, Anomaly

DETECTOR = "heartbeat"


@dataclass(frozen=True, slots=True)
class Verdict:
    """One check now: whether it fires, and the figures it is judged on (shown by ``/readyz``)."""

    name: str
    firing: bool
    age_s: float
    """Seconds since the last arrival / heartbeat, or the flow's lag."""
    expected: float | None = None
    probability: float | None = None
    anomaly: Anomaly | None = None
    """What it raises while it fires."""


def judge_silence(*, expected: float | None, silence_s: float, alpha: float, min_silence_s: float,
                  name: str = "") -> Verdict:
    if expected is None:  # an hour not learned yet: not judged
        return Verdict(name, False, silence_s)
    p = silence_probability(expected)
    return Verdict(name, silence_s >= min_silence_s and p < alpha, silence_s, expected, p)


def judge_flow_lag(*, closed_until: float | None, newest_arrival: float | None, now_s: float,
                   bound_s: float) -> Verdict:
    if closed_until is None or newest_arrival is None:  # the flow never closed a minute, or nothing arrives
        return Verdict("flow_lag", False, 0.0)
    lag = max(0.0, now_s - closed_until)
    arriving = now_s - newest_arrival <= bound_s
    return Verdict("flow_lag", arriving and lag > bound_s, lag, bound_s)


def stale_alerters(beats: Mapping[str, float], me: str, now_s: float, stale_s: float) -> list[Verdict]:
    """A verdict per other alerter: stale when its heartbeat is older than ``stale_s``."""
    return [Verdict(f"alerter:{name}", now_s - at > stale_s, max(0.0, now_s - at), stale_s)
            for name, at in sorted(beats.items()) if name != me]


def _at(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(epoch_s, UTC)


def silence_anomaly(series: str, v: Verdict, last_seen: float, now_s: float, cfg: HeartbeatSettings) -> Anomaly:
    kind, _, name = series.partition(":")
    minutes = v.age_s / 60
    what_en, what_zh = (f"source {name}", f"来源 {name}") if kind == "source" else (f"team {name}", f"团队 {name}")
    return Anomaly(kpi="arrivals", window="1m", team=name if kind == "team" else ALL,
                   channel=series if kind == "source" else ALL, start=_at(last_seen), end=_at(now_s), value=0.0,
                   expected=round(v.expected or 0.0, 2), score=1.0 - (v.probability or 0.0), severity=cfg.severity,
                   direction="down", detector=DETECTOR, incident_start=_at(last_seen),
                   reason_en=(f"No arrivals from {what_en} for {minutes:.0f} min; {v.expected:.1f} expected at these "
                              f"hours (p = {v.probability:.1e})"),
                   reason_zh=f"{what_zh} 已 {minutes:.0f} 分钟无数据；此时段预计 {v.expected:.1f} 次（p = {v.probability:.1e}）")


def flow_lag_anomaly(v: Verdict, closed_until: float, now_s: float) -> Anomaly:
    return Anomaly(kpi="flow_lag_s", window="1m", channel="flow", start=_at(closed_until), end=_at(now_s),
                   value=round(v.age_s, 1), expected=v.expected, severity="critical", direction="up",
                   detector=DETECTOR, incident_start=_at(closed_until),
                   reason_en=f"The flow's KPIs are {v.age_s / 60:.0f} min behind while events arrive",
                   reason_zh=f"数据流的指标落后 {v.age_s / 60:.0f} 分钟，而事件仍在到达")


def alerter_anomaly(v: Verdict, last_beat: float, now_s: float) -> Anomaly:
    name = v.name.partition(":")[2]
    return Anomaly(kpi="alerter_heartbeat_age_s", window="1m", channel=v.name, start=_at(last_beat), end=_at(now_s),
                   value=round(v.age_s, 1), expected=v.expected, severity="critical", direction="up",
                   detector=DETECTOR, incident_start=_at(last_beat),
                   reason_en=f"Alerter {name} has not run for {v.age_s:.0f} s",
                   reason_zh=f"告警进程 {name} 已 {v.age_s:.0f} 秒未运行")
