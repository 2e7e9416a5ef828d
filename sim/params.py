"""What a simulated cell (team, channel) is: its true ``Params``, the center's profiles, and the KPIs they imply.

``Params`` are defined as the KPI the dataflow measures, so that a window's KPI
estimates them directly (see ``sim.simulator``). ``derived(kpi, p, base, target)``
is the expected value of a KPI for a cell with parameters ``p``: the ground truth
behind ``Simulator.true_value``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from sim.core import GAMMA, LATE_TAIL
from sim.incidents import INCIDENT_KPIS


@dataclass(frozen=True, slots=True)
class Params:
    """The true behaviour of one (team, channel) cell; see the module docstring."""

    timeout_rate: float = 0.10
    abandon_rate: float = 0.05
    fcr_rate: float = 0.87
    resolve_rate: float = 0.97
    """Answered contacts resolved in the session; the rest hours later (backlog meanwhile)."""
    reopen_rate: float = 0.03
    transfer_rate: float = 0.05
    bot_share: float = 0.0
    """Share of on-time answers given by a bot (a few seconds)."""
    handle_s: float = 360.0
    """Mean handle time (log-normal)."""
    csat: float = 0.91
    survey_rate: float = 0.30
    nps_rate: float = 0.10
    nps_promoters: float = 0.60
    nps_detractors: float = 0.08
    complaint_rate: float = 0.015
    major_share: float = 0.15
    complaint_timely_rate: float = 0.99
    """Share of complaints answered within their grade's target (the standard asks >= 0.98)."""
    feedback_rate: float = 0.02
    feedback_timely_rate: float = 0.95
    frt: float = 1.0
    """Multiplier on agents' wait times (an ``frt`` incident scales it)."""
    volume: float = 1.0
    """Multiplier on the arrival rate (a ``volume`` incident scales it)."""


PARAM_NAMES = frozenset(f.name for f in fields(Params))
CAPS = {"handle_s": math.inf, "frt": math.inf, "volume": math.inf, "timeout_rate": 0.95, "abandon_rate": 0.9}

CHANNEL_DEFAULTS: dict[str, Params] = {
    "phone": Params(timeout_rate=0.10, abandon_rate=0.06, handle_s=300, survey_rate=0.25, nps_rate=0.08),
    "chat": Params(timeout_rate=0.10, abandon_rate=0.04, bot_share=0.25, handle_s=420, survey_rate=0.35),
    "wechat": Params(timeout_rate=0.10, abandon_rate=0.05, bot_share=0.35, handle_s=390, survey_rate=0.35),
    "email": Params(timeout_rate=0.08, abandon_rate=0.0, handle_s=540, fcr_rate=0.82, survey_rate=0.20),
}
"""Per-channel defaults; a channel not listed gets ``Params()``."""

TEAM_PROFILES: dict[str, dict[str, float]] = {
    "tech": {"handle_s": 1.6, "fcr_rate": 0.95, "transfer_rate": 1.6},
    "sales": {"complaint_rate": 0.7, "handle_s": 0.8},
    "vip": {"timeout_rate": 0.5, "abandon_rate": 0.5, "csat": 1.03, "complaint_rate": 1.3, "handle_s": 1.3},
}
"""Multipliers on the channel defaults for the default teams."""

DEFAULT_VOLUMES: dict[str, float] = {"billing": 360.0, "tech": 240.0, "sales": 180.0, "vip": 60.0}
"""Mean contacts per hour over a weekday's 24 hours (peaks are ~1.8x); other teams get 120."""
OTHER_TEAM_VOLUME = 120.0

CHANNEL_MIX: dict[str, float] = {"phone": 0.35, "chat": 0.30, "wechat": 0.25, "email": 0.10}
"""Default share of a team's contacts per channel (other channels 0.10), normalised."""

_HOURLY = (0.15, 0.10, 0.08, 0.07, 0.08, 0.12, 0.25, 0.55, 1.05, 1.60, 1.85, 1.75,
           1.30, 1.45, 1.75, 1.80, 1.65, 1.35, 1.05, 0.90, 0.80, 0.65, 0.45, 0.28)
_MEAN = sum(_HOURLY) / 24
DAILY_PROFILE: tuple[float, ...] = tuple(h / _MEAN for h in _HOURLY)
"""Weekday arrival-rate factor at each hour's midpoint (mean 1), local time; linear in between."""
WEEKLY_PROFILE: tuple[float, ...] = (1.05, 1.0, 1.0, 1.0, 0.97, 0.65, 0.55)
"""Factor per weekday, Monday first."""
HOLIDAY_FACTOR = 0.45

LATE_ABANDON = 3.0  # late contacts abandon this many times as often as the average
CSAT_LATE_PENALTY = 0.35
"""A contact answered after the target gives a 4-5 CSAT score this much less often."""


def first_contact_share(p: Params) -> float:
    """P(first contact | resolved in the session), so that fcr_rate = FCR events / resolved events.

    Per answered contact there are 1 + r*q resolved events (r = resolve_rate, q =
    reopen_rate: a reopened contact is resolved twice, the later ones never on first
    contact) of which r*f1 on first contact.
    """
    r = p.resolve_rate
    return min(1.0, p.fcr_rate * (1 + r * p.reopen_rate) / r) if r > 0 else 0.0


def csat_split(p: Params, base: Params, target: float) -> tuple[float, float]:
    """P(CSAT 4-5) for contacts answered in time and late, averaging ``p.csat`` at the base lateness.

    Late answers score ``CSAT_LATE_PENALTY`` lower; the on-time share is raised so that
    the mean over the cell's normal mix of late and on-time answers is ``p.csat``. A
    timeout or first-response incident makes more answers late: CSAT falls with it.
    """
    a_late = min(0.95, LATE_ABANDON * base.abandon_rate)
    a_on = max(0.0, (base.abandon_rate - base.timeout_rate * a_late) / (1 - base.timeout_rate)) if base.timeout_rate < 1 else 0.0
    answered = base.timeout_rate * (1 - a_late) + (1 - base.timeout_rate) * (1 - a_on)
    late0 = base.timeout_rate * (1 - a_late) / answered if answered > 0 else 0.0
    csat_late = max(0.0, p.csat - CSAT_LATE_PENALTY)
    csat_on = min(1.0, (p.csat - late0 * csat_late) / (1 - late0)) if late0 < 1 else csat_late
    return csat_on, csat_late


def derived(kpi: str, p: Params, base: Params, target: float) -> tuple[float, float]:
    """(expected KPI, its denominator per contact) of a cell with effective params ``p``.

    ``base`` is the cell without incidents (the abandon split depends on its timeout
    rate), ``target`` the channel's answer target. Averaging ``value`` over cells
    weighted by ``rate x denominator`` gives the expected KPI of the aggregate.
    """
    p0, to, frt = base.timeout_rate, p.timeout_rate, p.frt
    a_late = min(0.95, LATE_ABANDON * p.abandon_rate)
    a_on = max(0.0, (p.abandon_rate - p0 * a_late) / (1 - p0)) if p0 < 1 else 0.0
    answered = to * (1 - a_late) + (1 - to) * (1 - a_on)
    resolved_events = answered * (1 + p.resolve_rate * p.reopen_rate)
    agent_on = (1 - to) * (1 - a_on) * (1 - p.bot_share)
    if kpi == "timeout_rate":
        slow = max(0.0, 1 - frt ** (-1 / GAMMA)) if frt > 1 else 0.0
        return to + agent_on * slow, 1.0
    if kpi == "abandon_rate":
        return to * a_late + (1 - to) * a_on, 1.0
    if kpi == "frt_avg_s":
        c = frt * target  # on-time agent wait = max(1, c u^GAMMA)
        q = min(1.0, (1 / c) ** (1 / GAMMA)) if c > 0 else 1.0
        agent_mean = q + c * (1 - q ** (GAMMA + 1)) / (GAMMA + 1)
        total = (to * (1 - a_late) * target * (1 + frt * LATE_TAIL)
                 + (1 - to) * (1 - a_on) * p.bot_share * 3.5 + agent_on * agent_mean)
        return (total / answered if answered > 0 else 0.0), answered
    if kpi == "fcr_rate":  # = p.fcr_rate unless the share of first contacts had to be capped at 1
        return p.resolve_rate * first_contact_share(p) / (1 + p.resolve_rate * p.reopen_rate), resolved_events
    if kpi == "aht_s":
        return p.handle_s, resolved_events
    if kpi == "csat":
        slow = max(0.0, 1 - frt ** (-1 / GAMMA)) if frt > 1 else 0.0
        late = (to * (1 - a_late) + agent_on * slow) / answered if answered > 0 else 0.0
        csat_on, csat_late = csat_split(p, base, target)
        return late * csat_late + (1 - late) * csat_on, answered * p.survey_rate
    if kpi == "nps":
        return 100 * (p.nps_promoters - p.nps_detractors), answered * p.nps_rate
    name = INCIDENT_KPIS.get(kpi, kpi)
    if name in PARAM_NAMES:
        return float(getattr(p, name)), 1.0
    msg = f"true_value: unknown KPI {kpi!r}"
    raise ValueError(msg)
