"""A seeded, fast simulator of a contact center producing ``ServiceEvent``s.

Teams, channels and regions come from ``Settings``. Contacts arrive as a
non-homogeneous Poisson process (rate constant within each minute) whose rate follows a
daily rhythm (quiet nights, a morning and an afternoon peak, a lunch dip) and a
weekly one (weekends lower; holidays optional). Each contact then lives its life:

    contact.created → contact.first_response (agent or bot) | contact.abandoned
      → [contact.transferred] → contact.resolved (first_contact, handle_s)
      → [contact.reopened → contact.resolved]
      → [survey.csat] [survey.nps] [complaint.opened → .responded → .resolved]
      → [feedback.received → feedback.closed]

The probabilities are ``Params`` per (team, channel): channel defaults, times a
team profile, overridden by ``rates``. Incidents (``sim_incidents.Incident``)
scale one parameter for the contacts created during their interval; the resolved
incidents and ``Simulator.true_value`` are the ground truth.

Parameters are defined as the KPI the dataflow measures (DESIGN.md), so that a
window's KPI estimates them directly:

- ``timeout_rate``: share of contacts whose wait passes the channel's answer
  target (answered late or abandoned late);
- ``abandon_rate``: abandoned / contacts (late contacts abandon more often, so a
  timeout incident also raises abandons a little, as in a real center);
- ``fcr_rate``: resolved-on-first-contact / resolved events (a reopened contact
  is resolved twice);
- ``csat``: share of CSAT scores 4-5; ``complaint_rate``: complaints / contacts.

>>> from datetime import datetime, timedelta, timezone
>>> from sqm.config import Settings
>>> start = datetime(2026, 3, 2, 9, 0, tzinfo=timezone(timedelta(hours=8)))
>>> sim = Simulator(Settings(), seed=7, start=start)
>>> evs = list(sim.events(start + timedelta(minutes=10)))
>>> evs[0].type, evs[0].ts >= start, all(a.ts <= b.ts for a, b in zip(evs, evs[1:]))
('contact.created', True, True)
"""

from __future__ import annotations

import contextlib
import gc
import math
import random
import re
import sys
import time as _time
import zlib
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import date, datetime, tzinfo
from itertools import islice
from pathlib import Path
from typing import IO, Any

import msgspec

from sqm.clock import Clock, SystemClock
from sqm.config import Settings
from sqm.eventlog import append_events
from sqm.models import ServiceEvent
from streams.sim_incidents import INCIDENT_KPIS, Incident, IncidentError

__all__ = [
    "DEFAULT_VOLUMES",
    "Incident",
    "IncidentError",
    "Params",
    "Simulator",
    "paced",
    "write_ndjson",
    "write_stream",
]


@dataclass(frozen=True, slots=True)
class Params:
    """The true behaviour of one (team, channel) cell; see the module docstring."""

    timeout_rate: float = 0.10
    abandon_rate: float = 0.05
    fcr_rate: float = 0.87
    resolve_rate: float = 0.97
    """Answered contacts resolved at all (the rest stay open: backlog)."""
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
    complaint_timely_rate: float = 0.98
    feedback_rate: float = 0.02
    feedback_timely_rate: float = 0.95
    frt: float = 1.0
    """Multiplier on agents' wait times (an ``frt`` incident scales it)."""
    volume: float = 1.0
    """Multiplier on the arrival rate (a ``volume`` incident scales it)."""


PARAM_NAMES = frozenset(f.name for f in fields(Params))
_CAPS = {"handle_s": math.inf, "frt": math.inf, "volume": math.inf, "timeout_rate": 0.95, "abandon_rate": 0.9}

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

_NAME = re.compile(r"^[^\s:*|,=]{1,64}$")
_LATE_ABANDON = 3.0  # late contacts abandon this many times as often as the average
_GAMMA = 1.6  # on-time agent wait = target * u**_GAMMA (median ~0.33 target)
_LATE_TAIL = 0.6  # late wait = target * (1 + frt * Exp(mean _LATE_TAIL))
_CHUNK_S = 900.0  # arrivals are generated 15 minutes at a time
_TIERS = ("standard",) * 16 + ("gold",) * 3 + ("platinum",)

# event kinds (position in _TYPES)
_CREATED, _FR, _ABANDONED, _RESOLVED, _REOPENED, _TRANSFERRED = range(6)
_CSAT, _NPS, _C_OPENED, _C_RESPONDED, _C_RESOLVED, _F_RECEIVED, _F_CLOSED = range(6, 13)


@dataclass(frozen=True, slots=True)
class _Cell:
    team: str
    channel: str
    region: str
    target: float
    base: Params
    weight: float  # share of the team's arrivals


class Simulator:
    """A contact center: ``events(until)`` yields its ServiceEvents in timestamp order.

    - ``settings``: teams, channels (answer targets), regions, complaint targets.
    - ``seed``: the same seed, start and arguments give the same events.
    - ``start``: an aware datetime; its time zone is the center's local time
      (daily rhythm, ``at=10:00`` of incidents) unless ``tz`` is given.
    - ``volumes``: mean contacts/hour per team over a weekday (``DEFAULT_VOLUMES``).
    - ``incidents``: ``Incident``s (resolved against ``start``).
    - ``rates``: overrides of ``Params`` fields keyed by ``channel``, ``team`` or
      ``team/channel`` (applied in that order), e.g. ``{"billing/chat": {"timeout_rate": 0.2}}``.
    - ``channel_mix`` / ``region_mix``: relative shares (default ``CHANNEL_MIX``;
      regions 1, 0.7, 0.5, ... in settings order).
    - ``holidays``: local dates with ``HOLIDAY_FACTOR`` volume.
    - ``durations``: also send ``wait_s``/``response_s`` (the dataflow can derive them).

    ``events`` may be called again with a later ``until``: it continues the same
    stream, so ``events(t1)`` then ``events(t2)`` equals ``events(t2)``.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        seed: int,
        start: datetime,
        volumes: Mapping[str, float] | None = None,
        incidents: Sequence[Incident] = (),
        rates: Mapping[str, Mapping[str, float]] | None = None,
        channel_mix: Mapping[str, float] | None = None,
        region_mix: Mapping[str, float] | None = None,
        holidays: Collection[date] = (),
        tz: tzinfo | None = None,
        durations: bool = False,
        id_prefix: str | None = None,
    ) -> None:
        if start.tzinfo is None:
            msg = f"start must be timezone-aware, got {start!r}"
            raise ValueError(msg)
        self.settings = settings
        self.seed = seed
        self.start = start
        self.tz: tzinfo = tz or start.tzinfo  # type: ignore[assignment]
        self.holidays = frozenset(holidays)
        self.durations = durations
        self.teams = [t.name for t in settings.teams]
        self.channels = [c.name for c in settings.channels]
        self.regions = list(settings.regions) or ["default"]
        for kind, names in (("team", self.teams), ("channel", self.channels), ("region", self.regions)):
            for name in names:
                if not _NAME.match(name):
                    msg = f"{kind} name {name!r} cannot be used in events (1-64 characters, no spaces or :*|,=)"
                    raise ValueError(msg)
        vols = dict(volumes or {})
        for team in vols:
            if team not in self.teams:
                msg = f"volumes: unknown team {team!r} (known: {', '.join(self.teams)})"
                raise ValueError(msg)
            if vols[team] < 0:
                msg = f"volumes[{team}]: contacts/hour must be >= 0, got {vols[team]}"
                raise ValueError(msg)
        self.volumes = {t: float(vols.get(t, DEFAULT_VOLUMES.get(t, OTHER_TEAM_VOLUME))) for t in self.teams}
        self._params = {(t, c): self._cell_params(t, c, rates or {}) for t in self.teams for c in self.channels}
        self.incidents: tuple[Incident, ...] = tuple(self._check(i.resolve(start, self.tz)) for i in incidents)
        self._cells = self._build_cells(channel_mix, region_mix)
        self._complaint_targets = (
            settings.targets.complaint_response_general_s,
            settings.targets.complaint_response_major_s,
        )
        self._feedback_target = settings.targets.feedback_close_s
        self._rng = random.Random(seed)
        prefix = id_prefix or f"{zlib.crc32(f'{seed}|{start.isoformat()}'.encode()):08x}"
        self._prefix = prefix
        self._agents = {t: [f"{t}-{k:03d}" for k in range(1, max(3, int(self.volumes[t] / 12)) + 1)] for t in self.teams}
        self._t0 = start.timestamp()
        self._gen_until = self._t0  # arrivals generated up to here (epoch s)
        self._emitted_until = self._t0
        self._pending: list[tuple[Any, ...]] = []
        self._seq = 0
        self._contacts = 0
        self._eff_cache: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        self._others = {t: [o for o in self.teams if o != t] or [t] for t in self.teams}

    # --- configuration ------------------------------------------------------------------
    def _cell_params(self, team: str, channel: str, rates: Mapping[str, Mapping[str, float]]) -> Params:
        p = CHANNEL_DEFAULTS.get(channel, Params())
        for name, mult in TEAM_PROFILES.get(team, {}).items():
            p = replace(p, **{name: min(getattr(p, name) * mult, _CAPS.get(name, 1.0))})
        for key in (channel, team, f"{team}/{channel}"):
            for name, value in rates.get(key, {}).items():
                if name not in PARAM_NAMES:
                    msg = f"rates[{key!r}]: unknown parameter {name!r} (known: {', '.join(sorted(PARAM_NAMES))})"
                    raise ValueError(msg)
                if not 0 <= value <= _CAPS.get(name, 1.0):
                    msg = f"rates[{key!r}].{name}: {value} is out of range"
                    raise ValueError(msg)
                p = replace(p, **{name: float(value)})
        known = set(self.teams) | set(self.channels) | {f"{t}/{c}" for t in self.teams for c in self.channels}
        for key in rates:
            if key not in known:
                msg = f"rates: unknown key {key!r} (use a channel, a team or team/channel)"
                raise ValueError(msg)
        return p

    def _check(self, inc: Incident) -> Incident:
        for kind, value, known in (("team", inc.team, self.teams), ("channel", inc.channel, self.channels),
                                   ("region", inc.region, self.regions)):
            if value is not None and value not in known:
                msg = f"incident {inc}: unknown {kind} {value!r} (known: {', '.join(known)})"
                raise IncidentError(msg)
        return inc

    def _build_cells(self, channel_mix: Mapping[str, float] | None, region_mix: Mapping[str, float] | None) -> dict[str, list[_Cell]]:
        cmix = {c: float((channel_mix or CHANNEL_MIX).get(c, 0.10 if channel_mix is None else 0.0)) for c in self.channels}
        default_r = {r: max(0.2, 1.0 - 0.3 * i) for i, r in enumerate(self.regions)}
        rmix = {r: float((region_mix or default_r).get(r, 0.0)) for r in self.regions}
        for name, mix in (("channel_mix", cmix), ("region_mix", rmix)):
            if sum(mix.values()) <= 0 or min(mix.values()) < 0:
                msg = f"{name}: shares must be >= 0 with a positive sum, got {mix}"
                raise ValueError(msg)
        ctot, rtot = sum(cmix.values()), sum(rmix.values())
        targets = self.settings.answer_targets
        return {
            t: [
                _Cell(t, c, r, targets[c], self._params[(t, c)], cmix[c] / ctot * rmix[r] / rtot)
                for c in self.channels
                for r in self.regions
            ]
            for t in self.teams
        }

    # --- ground truth -------------------------------------------------------------------
    def rhythm(self, at: datetime | float) -> float:
        """The arrival-rate factor (daily x weekly x holiday) at a time; mean 1 over a weekday."""
        ts = at.timestamp() if isinstance(at, datetime) else at
        local = datetime.fromtimestamp(ts, self.tz)
        hour = local.hour + local.minute / 60 + local.second / 3600 - 0.5
        lo = math.floor(hour)
        frac = hour - lo
        day_f = DAILY_PROFILE[lo % 24] * (1 - frac) + DAILY_PROFILE[(lo + 1) % 24] * frac
        week_f = HOLIDAY_FACTOR if local.date() in self.holidays else WEEKLY_PROFILE[local.weekday()]
        return day_f * week_f

    def params(self, at: datetime, team: str, channel: str, region: str | None = None) -> Params:
        """The true ``Params`` of a cell for contacts created at ``at`` (incidents applied)."""
        base = self._params[(team, channel)]
        return self._apply(base, [i for i in self.incidents if i.active(at) and i.matches(team, channel, region or self.regions[0])])

    def true_value(self, kpi: str, at: datetime, *, team: str | None = None, channel: str | None = None,
                   region: str | None = None) -> float:
        """The true value at ``at`` of a KPI (or incident parameter) for a team/channel/region (None: all).

        ``volume`` is the expected contacts per hour; ``frt`` the wait multiplier;
        ``nps`` = 100 x (promoters - detractors); ratio KPIs are averaged over the
        matching cells weighted by their arrival rates.
        """
        kpi = {"aht": "aht_s", "handle_s": "aht_s"}.get(kpi, kpi)
        num = den = 0.0
        rate_now = self.rhythm(at)
        for team_name, cells in self._cells.items():
            if team is not None and team_name != team:
                continue
            for cell in cells:
                if (channel is not None and cell.channel != channel) or (region is not None and cell.region != region):
                    continue
                p = self._apply(cell.base, [i for i in self.incidents if i.active(at) and i.matches(team_name, cell.channel, cell.region)])
                w = self.volumes[team_name] * cell.weight * rate_now * p.volume
                if kpi == "volume":
                    num += w
                    den = 1.0
                    continue
                num += w * _derived(kpi, p, cell.base)
                den += w
        if den == 0:
            msg = f"true_value({kpi!r}): no matching cell or no arrivals"
            raise ValueError(msg)
        return num / den

    @staticmethod
    def _apply(base: Params, active: Sequence[Incident]) -> Params:
        if not active:
            return base
        changes: dict[str, float] = {}
        for inc in active:
            name = inc.parameter
            changes[name] = changes.get(name, getattr(base, name)) * inc.factor
        return replace(base, **{k: min(v, _CAPS.get(k, 1.0)) for k, v in changes.items()})

    # --- generation ---------------------------------------------------------------------
    @property
    def contacts(self) -> int:
        """Contacts created so far."""
        return self._contacts

    def events(self, until: datetime | None = None) -> Iterator[ServiceEvent]:
        """Yield the events with ``ts < until`` (forever if None), in timestamp order.

        Deterministic for a seed. A later call continues where this one stopped
        (events of a half-consumed call are not repeated).
        """
        end = math.inf if until is None else until.timestamp()
        pending = self._pending
        while self._emitted_until < end:
            if self._gen_until <= self._emitted_until:
                chunk_end = self._gen_until + _CHUNK_S
                # many small tuples: the cyclic GC would rescan them all for nothing
                gc_was_on = gc.isenabled()
                gc.disable()
                try:
                    self._generate(self._gen_until, chunk_end)
                finally:
                    if gc_was_on:
                        gc.enable()
                self._gen_until = chunk_end
                pending.sort()
            stop = min(self._gen_until, end)
            cut = bisect_left(pending, (stop,))
            ready = pending[:cut]
            del pending[:cut]
            self._emitted_until = stop
            yield from self._materialise(ready)

    def _effective(self, cell: _Cell, active: tuple[Incident, ...]) -> tuple[Any, ...]:
        """Per-contact constants of a cell under the incidents active (cached)."""
        mine = tuple(i for i in active if i.matches(cell.team, cell.channel, cell.region))
        key = (cell.team, cell.channel, cell.region, mine)
        hit = self._eff_cache.get(key)
        if hit is not None:
            return hit
        p = self._apply(cell.base, mine)
        p0 = cell.base.timeout_rate
        a_late = min(0.95, _LATE_ABANDON * p.abandon_rate)
        a_on = max(0.0, (p.abandon_rate - p0 * a_late) / (1 - p0)) if p0 < 1 else 0.0
        f1 = min(1.0, p.fcr_rate * (1 + p.reopen_rate))
        tr = min(p.transfer_rate, 1 - f1)
        handle_sigma = 0.6
        handle_mu = math.log(max(p.handle_s, 1.0)) - handle_sigma**2 / 2
        out = (p, a_late, a_on, f1, tr, handle_mu, handle_sigma)
        self._eff_cache[key] = out
        return out

    def _steps(self, t_from: float, t_to: float) -> Iterator[tuple[float, float, tuple[Incident, ...]]]:
        """Steps of at most a minute, split at incident boundaries: (start, end, incidents active)."""
        bounds = sorted({b for i in self.incidents for b in (i.start.timestamp(), i.end.timestamp()) if t_from < b < t_to})
        t = t_from
        while t < t_to:
            nxt = min(t + 60.0, t_to)
            while bounds and bounds[0] <= t:
                bounds.pop(0)
            if bounds and bounds[0] < nxt:
                nxt = bounds[0]
            active = tuple(i for i in self.incidents if i.start.timestamp() <= t < i.end.timestamp())
            yield t, nxt, active
            t = nxt

    def _generate(self, t_from: float, t_to: float) -> None:
        """Create the contacts arriving in [t_from, t_to) and queue all their events."""
        rng = self._rng
        rnd = rng.random
        gauss = rng.gauss
        log = math.log
        exp = math.exp
        push = self._pending.append
        cg, cm = self._complaint_targets
        fb_target = self._feedback_target
        durations = self.durations
        prefix = self._prefix
        for step, step_end, active in self._steps(t_from, t_to):
            rhythm = self.rhythm((step + step_end) / 2)
            for team in self.teams:
                cells = self._cells[team]
                effs = [self._effective(cell, active) for cell in cells]
                weights = [cell.weight * eff[0].volume for cell, eff in zip(cells, effs, strict=True)]
                total_w = sum(weights)
                rate = self.volumes[team] / 3600.0 * rhythm * total_w
                if rate <= 0:
                    continue
                mean_gap = 1.0 / rate
                cum: list[float] = []
                acc = 0.0
                for w in weights:
                    acc += w / total_w
                    cum.append(acc)
                last = len(cells) - 1
                agents = self._agents[team]
                n_agents = len(agents)
                others = self._others[team]
                t = step
                while True:
                    t -= log(1.0 - rnd()) * mean_gap
                    if t >= step_end:
                        break
                    k = bisect_right(cum, rnd())
                    if k > last:
                        k = last
                    cell = cells[k]
                    p, a_late, a_on, f1, tr, h_mu, h_sigma = effs[k]
                    self._contacts += 1
                    cid = f"{prefix}-{self._contacts}"
                    tier = "vip" if team == "vip" else _TIERS[int(rnd() * 20)]
                    c = (cid, team, cell.channel, cell.region, tier)
                    seq = self._seq
                    push((t, seq, _CREATED, c, 0, None, None))
                    n = 1
                    target = cell.target
                    # --- wait: late or not, abandoned or answered
                    late = rnd() < p.timeout_rate
                    if late:
                        if rnd() < a_late:
                            wait = target * (1.0 - log(1.0 - rnd()) * 0.4)
                            end_t = t + wait
                            push((end_t, seq + n, _ABANDONED, c, n, wait if durations else None, None))
                            n += 1
                            answered = False
                        else:
                            wait = target * (1.0 + p.frt * _LATE_TAIL * -log(1.0 - rnd()))
                            answered = True
                            by_bot = False
                    elif rnd() < a_on:
                        wait = target * (0.02 + 0.977 * rnd())
                        end_t = t + wait
                        push((end_t, seq + n, _ABANDONED, c, n, wait if durations else None, None))
                        n += 1
                        answered = False
                    else:
                        answered = True
                        if rnd() < p.bot_share:
                            by_bot = True
                            wait = 1.0 + 5.0 * rnd()
                        else:
                            by_bot = False
                            wait = max(1.0, p.frt * target * rnd() ** _GAMMA)
                    if answered:
                        fr_t = t + wait
                        agent = None if by_bot else agents[int(rnd() * n_agents)]
                        push((fr_t, seq + n, _FR, c, n, wait if durations else None, agent))
                        n += 1
                        end_t = fr_t
                        if rnd() < p.resolve_rate:
                            if agent is None:
                                agent = agents[int(rnd() * n_agents)]
                            handle = exp(gauss(h_mu, h_sigma))
                            u = rnd()
                            if u < f1:
                                end_t = fr_t + handle
                                push((end_t, seq + n, _RESOLVED, c, n, True, (handle, agent)))
                                n += 1
                            elif u < f1 + tr:
                                tr_t = fr_t + handle * 0.4
                                push((tr_t, seq + n, _TRANSFERRED, c, n, others[int(rnd() * len(others))], agent))
                                n += 1
                                end_t = tr_t + 30.0 + handle
                                agent = agents[int(rnd() * n_agents)]
                                push((end_t, seq + n, _RESOLVED, c, n, False, (handle, agent)))
                                n += 1
                            else:
                                end_t = fr_t + handle + 600.0 - log(1.0 - rnd()) * 7200.0
                                push((end_t, seq + n, _RESOLVED, c, n, False, (handle, agent)))
                                n += 1
                            if rnd() < p.reopen_rate:
                                end_t += 600.0 - log(1.0 - rnd()) * 14400.0
                                push((end_t, seq + n, _REOPENED, c, n, None, None))
                                n += 1
                                handle2 = exp(gauss(h_mu, h_sigma))
                                end_t += 120.0 - log(1.0 - rnd()) * 1800.0 + handle2
                                push((end_t, seq + n, _RESOLVED, c, n, False, (handle2, agent)))
                                n += 1
                            # --- surveys on the final resolution
                            if rnd() < p.survey_rate:
                                u = rnd()
                                score = (5 if u < p.csat * 0.62 else 4) if u < p.csat else 1 + int(3 * rnd())
                                push((end_t + 5.0 - log(1.0 - rnd()) * 600.0, seq + n, _CSAT, c, n, score, None))
                                n += 1
                            if rnd() < p.nps_rate:
                                u = rnd()
                                if u < p.nps_promoters:
                                    score = 10 if rnd() < 0.55 else 9
                                elif u < p.nps_promoters + p.nps_detractors:
                                    score = min(6, int(7 * rnd() ** 0.5))
                                else:
                                    score = 8 if rnd() < 0.55 else 7
                                push((end_t + 60.0 - log(1.0 - rnd()) * 3600.0, seq + n, _NPS, c, n, score, None))
                                n += 1
                    # --- complaints and feedback, after the contact's last step
                    if rnd() < p.complaint_rate:
                        major = rnd() < p.major_share
                        target_r = cm if major else cg
                        op_t = end_t + 30.0 - log(1.0 - rnd()) * 1800.0
                        push((op_t, seq + n, _C_OPENED, c, n, "major" if major else "general", None))
                        n += 1
                        if rnd() < p.complaint_timely_rate:
                            resp = max(30.0, target_r * rnd() ** 1.3 * 0.999)
                        else:
                            resp = target_r * (1.0 - log(1.0 - rnd()) * 0.5) + 1.0
                        push((op_t + resp, seq + n, _C_RESPONDED, c, n, resp if durations else None, None))
                        n += 1
                        push((op_t + resp + 600.0 - log(1.0 - rnd()) * (7200.0 if major else 21600.0), seq + n,
                              _C_RESOLVED, c, n, None, None))
                        n += 1
                    if rnd() < p.feedback_rate:
                        fb_t = end_t + 60.0 - log(1.0 - rnd()) * 3600.0
                        push((fb_t, seq + n, _F_RECEIVED, c, n, None, None))
                        n += 1
                        close = fb_target * rnd() * 0.999 if rnd() < p.feedback_timely_rate else fb_target * (1.0 + 0.25 * rnd()) + 1.0
                        push((fb_t + close, seq + n, _F_CLOSED, c, n, None, None))
                        n += 1
                    self._seq = seq + n

    def _materialise(self, ready: list[tuple[Any, ...]]) -> Iterator[ServiceEvent]:
        tz = self.tz
        fromts = datetime.fromtimestamp
        SE = ServiceEvent
        for t, _seq, kind, c, n, a, b in ready:
            cid, team, channel, region, tier = c
            ts = fromts(t, tz)
            eid = f"{cid}.{n}"
            if kind == _CREATED:
                yield SE(event_id=eid, type="contact.created", ts=ts, contact_id=cid, team=team, channel=channel,
                         region=region, customer_tier=tier)
            elif kind == _FR:
                if b is None:
                    yield SE(event_id=eid, type="contact.first_response", ts=ts, contact_id=cid, team=team,
                             channel=channel, region=region, customer_tier=tier, by="bot", wait_s=a)
                else:
                    yield SE(event_id=eid, type="contact.first_response", ts=ts, contact_id=cid, team=team,
                             channel=channel, region=region, customer_tier=tier, by="agent", agent_id=b, wait_s=a)
            elif kind == _RESOLVED:
                yield SE(event_id=eid, type="contact.resolved", ts=ts, contact_id=cid, team=team, channel=channel,
                         region=region, customer_tier=tier, first_contact=a, handle_s=round(b[0], 1), agent_id=b[1])
            elif kind == _CSAT:
                yield SE(event_id=eid, type="survey.csat", ts=ts, contact_id=cid, team=team, channel=channel,
                         region=region, customer_tier=tier, score=a)
            elif kind == _ABANDONED:
                yield SE(event_id=eid, type="contact.abandoned", ts=ts, contact_id=cid, team=team, channel=channel,
                         region=region, customer_tier=tier, wait_s=a)
            elif kind == _NPS:
                yield SE(event_id=eid, type="survey.nps", ts=ts, contact_id=cid, team=team, channel=channel,
                         region=region, customer_tier=tier, score=a)
            elif kind == _TRANSFERRED:
                yield SE(event_id=eid, type="contact.transferred", ts=ts, contact_id=cid, team=team, channel=channel,
                         region=region, customer_tier=tier, to_team=a, agent_id=b)
            elif kind == _REOPENED:
                yield SE(event_id=eid, type="contact.reopened", ts=ts, contact_id=cid, team=team, channel=channel,
                         region=region, customer_tier=tier)
            elif kind == _C_OPENED:
                yield SE(event_id=eid, type="complaint.opened", ts=ts, contact_id=cid, team=team, channel=channel,
                         region=region, customer_tier=tier, severity=a)
            elif kind == _C_RESPONDED:
                yield SE(event_id=eid, type="complaint.responded", ts=ts, contact_id=cid, team=team, channel=channel,
                         region=region, customer_tier=tier, response_s=a)
            else:
                yield SE(event_id=eid, type=_TYPES[kind], ts=ts, contact_id=cid, team=team, channel=channel,
                         region=region, customer_tier=tier)


_TYPES = ("contact.created", "contact.first_response", "contact.abandoned", "contact.resolved", "contact.reopened",
          "contact.transferred", "survey.csat", "survey.nps", "complaint.opened", "complaint.responded",
          "complaint.resolved", "feedback.received", "feedback.closed")


def _derived(kpi: str, p: Params, base: Params) -> float:
    """The expected KPI of a cell with effective params ``p`` (``base`` = no incident)."""
    p0 = base.timeout_rate
    a_late = min(0.95, _LATE_ABANDON * p.abandon_rate)
    a_on = max(0.0, (p.abandon_rate - p0 * a_late) / (1 - p0)) if p0 < 1 else 0.0
    if kpi == "timeout_rate":
        slow = max(0.0, 1 - p.frt ** (-1 / _GAMMA)) if p.frt > 1 else 0.0
        return p.timeout_rate + (1 - p.timeout_rate) * (1 - a_on) * (1 - p.bot_share) * slow
    if kpi == "abandon_rate":
        return p.timeout_rate * a_late + (1 - p.timeout_rate) * a_on
    if kpi == "aht_s":
        return p.handle_s
    if kpi == "nps":
        return 100 * (p.nps_promoters - p.nps_detractors)
    name = INCIDENT_KPIS.get(kpi, kpi)
    if name in PARAM_NAMES:
        return float(getattr(p, name))
    msg = f"true_value: unknown KPI {kpi!r}"
    raise ValueError(msg)


# --- pacing and writers -------------------------------------------------------------------


def paced(
    events: Iterable[ServiceEvent],
    *,
    speed: float,
    clock: Clock | None = None,
    sleep: Callable[[float], None] = _time.sleep,
    max_batch: int = 1000,
    tick_s: float = 0.05,
    origin: datetime | None = None,
) -> Iterator[list[ServiceEvent]]:
    """Release events in batches as wall time advances: ``speed`` simulated seconds per wall second.

    ``speed=60`` plays an hour a minute; ``speed=math.inf`` yields batches of
    ``max_batch`` as fast as they are made. Simulated time ``origin`` (default:
    the first event's ts) maps to the wall time of the first event. A batch holds
    the events due by now; the generator sleeps (``sleep``, at least ``tick_s``)
    until the next is due. ``clock``/``sleep`` are seams for tests.
    """
    if speed <= 0:
        msg = f"speed must be > 0, got {speed}"
        raise ValueError(msg)
    batch: list[ServiceEvent] = []
    if math.isinf(speed):
        for ev in events:
            batch.append(ev)
            if len(batch) >= max_batch:
                yield batch
                batch = []
        if batch:
            yield batch
        return
    clk = clock or SystemClock()
    sim0: float | None = origin.timestamp() if origin is not None else None
    wall0 = clk.monotonic()
    for ev in events:
        t = ev.ts.timestamp()
        if sim0 is None:
            sim0 = t
            wall0 = clk.monotonic()
        due = wall0 + (t - sim0) / speed
        now = clk.monotonic()
        if due > now:
            if batch:
                yield batch
                batch = []
                now = clk.monotonic()
            if due > now:
                sleep(max(due - now, tick_s))
        batch.append(ev)
        if len(batch) >= max_batch:
            yield batch
            batch = []
    if batch:
        yield batch


def _batches(items: Iterable[ServiceEvent] | Iterable[Sequence[ServiceEvent]], size: int) -> Iterator[Sequence[ServiceEvent]]:
    """Group single events into lists of ``size``; pass batches (lists) through as they come."""
    buf: list[ServiceEvent] = []
    for item in items:
        if isinstance(item, ServiceEvent):
            buf.append(item)
            if len(buf) >= size:
                yield buf
                buf = []
        else:
            if buf:
                yield buf
                buf = []
            seq = list(item)
            for i in range(0, len(seq), size):
                yield seq[i : i + size]
    if buf:
        yield buf


_ndjson = msgspec.json.Encoder()


def write_ndjson(events: Iterable[ServiceEvent] | Iterable[Sequence[ServiceEvent]], path: str | Path | IO[bytes],
                 *, batch: int = 10_000) -> int:
    """Write events (or batches from ``paced``) as NDJSON to a path, ``"-"`` (stdout) or a binary file; returns the count.

    Each batch is flushed as it is written, so a paced run can be tailed.
    """
    count = 0
    with contextlib.ExitStack() as stack:
        if isinstance(path, str | Path):
            out: IO[bytes] = sys.stdout.buffer if str(path) == "-" else stack.enter_context(Path(path).open("wb"))
        else:
            out = path
        for chunk in _batches(events, batch):
            out.write(_ndjson.encode_lines(chunk))
            out.flush()
            count += len(chunk)
    return count


def write_stream(redis: Any, events: Iterable[ServiceEvent] | Iterable[Sequence[ServiceEvent]], partitions: int,
                 *, batch: int = 2000) -> int:
    """Append events (or batches from ``paced``) to the partitioned event streams; returns the count.

    Uses ``sqm.eventlog.append_events``: one pipeline per batch, 100 events per entry.
    """
    count = 0
    for chunk in _batches(events, batch):
        append_events(redis, chunk, partitions)
        count += len(chunk)
    return count


def take(events: Iterable[ServiceEvent], n: int) -> list[ServiceEvent]:
    """The first ``n`` events (a convenience for benches and tests)."""
    return list(islice(events, n))
