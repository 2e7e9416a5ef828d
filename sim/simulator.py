"""A seeded, fast simulator of a contact center producing ``ServiceEvent``s.

Teams, channels and regions come from ``Settings``. Contacts arrive as a
non-homogeneous Poisson process (rate constant within each minute) whose rate follows a
daily rhythm (quiet nights, a morning and an afternoon peak, a lunch dip), a
weekly one (weekends lower; holidays optional) and a little seeded day/hour noise.
Each contact then lives its life (vectorised in ``sim_core``):

    contact.created → contact.first_response (agent or bot) | contact.abandoned
      → [contact.transferred] → contact.resolved (first_contact, handle_s)
      → [contact.reopened → contact.resolved]
      → [survey.csat] [survey.nps] [complaint.opened → .responded → .resolved]
      → [feedback.received → feedback.closed]

The probabilities are ``Params`` per (team, channel): channel defaults, times a
team profile, overridden by ``rates``. Incidents (``sim_incidents.Incident``)
scale one parameter for the contacts created during their interval (a volume surge
also slows the agents: ``surge_elasticity``); the resolved incidents,
``Simulator.true_value`` and ``Simulator.ground_truth`` are the ground truth.

Parameters are defined as the KPI the dataflow measures (DESIGN.md), so that a
window's KPI estimates them directly:

- ``timeout_rate``: share of contacts whose wait passes the channel's answer
  target (answered late or abandoned late);
- ``abandon_rate``: abandoned / contacts (late contacts abandon more often, so a
  timeout incident also raises abandons a little, as in a real center);
- ``fcr_rate``: resolved-on-first-contact / resolved events (a reopened contact
  is resolved twice; one not resolved in its session is resolved hours later);
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

import math
import random
import re
import zlib
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import date, datetime, timedelta, timezone, tzinfo
from typing import Any

import numpy as np

from sim.core import (
    ABANDONED,
    C_OPEN_GENERAL,
    C_OPEN_MAJOR,
    C_RESPONDED,
    COLS,
    CREATED,
    CSAT,
    EVENT_DTYPE,
    FR_AGENT,
    FR_BOT,
    GAMMA,
    LATE_TAIL,
    NPS,
    RESOLVED_FC,
    RESOLVED_NOT,
    TIERS,
    TRANSFERRED,
    TYPES,
    contact_events,
)
from sim.incidents import INCIDENT_KPIS, Incident, IncidentError
from sim.io import paced, write_ndjson, write_stream
from sqm.config import Settings
from sqm.models import ServiceEvent

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
CSAT_LATE_PENALTY = 0.35
"""A contact answered after the target gives a 4-5 CSAT score this much less often."""
_CHUNK_S = 3600.0  # arrivals are generated an hour at a time
_BLOCK = 32_768  # contacts per vectorised call


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
    - ``volume_noise``: sigma of the log-normal day and hour factors on arrivals (0: none).
    - ``surge_elasticity``: a volume incident of factor v > 1 also multiplies the
      agents' waits (``frt``) by v**surge_elasticity (same staff, more contacts; 0: off).

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
        volume_noise: float = 0.05,
        surge_elasticity: float = 1.0,
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
        if not 0 <= volume_noise <= 1:
            msg = f"volume_noise must be between 0 and 1, got {volume_noise}"
            raise ValueError(msg)
        self.volume_noise = volume_noise
        if surge_elasticity < 0:
            msg = f"surge_elasticity must be >= 0, got {surge_elasticity}"
            raise ValueError(msg)
        self.surge_elasticity = surge_elasticity
        self._noise_cache: dict[tuple[str, int], float] = {}
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
        self._np_rng = np.random.default_rng(seed)
        self._prefix = id_prefix or f"{zlib.crc32(f'{seed}|{start.isoformat()}'.encode()):08x}"
        self._agents = {t: [f"{t}-{k:03d}" for k in range(1, max(3, int(self.volumes[t] / 12)) + 1)] for t in self.teams}
        self._others = {t: [o for o in self.teams if o != t] or [t] for t in self.teams}
        # cells numbered 0.. for the arrays; per cell the names, agents and transfer targets
        self._cell_list = [cell for team in self.teams for cell in self._cells[team]]
        self._team_cells = {t: [i for i, c in enumerate(self._cell_list) if c.team == t] for t in self.teams}
        self._cell_names = [(c.team, c.channel, c.region) for c in self._cell_list]
        self._cell_agents = [self._agents[c.team] for c in self._cell_list]
        self._cell_others = [self._others[c.team] for c in self._cell_list]
        self._rows: dict[tuple[int, tuple[Incident, ...]], int] = {}
        self._table_rows: list[list[float]] = []
        self._table = np.zeros((0, len(COLS)))
        self._row_volume: list[float] = []
        self._mix_cache: dict[tuple[str, tuple[Incident, ...]], tuple[list[int], list[int], np.ndarray, float]] = {}
        self._t0 = start.timestamp()
        self._gen_until = self._t0  # arrivals generated up to here (epoch s)
        self._emitted_until = self._t0  # events before this were yielded
        self._pending = np.empty(0, EVENT_DTYPE)  # events generated, not yet yielded, sorted
        self._contacts = 0

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
        """The arrival-rate factor at a time: daily profile x weekday (or holiday) x noise.

        Mean 1 over a weekday without noise. The noise (``volume_noise``) is a
        log-normal factor per local day and one per hour (linear in between),
        drawn from the seed: the same at every call, part of the ground truth.
        """
        ts = at.timestamp() if isinstance(at, datetime) else at
        local = datetime.fromtimestamp(ts, self.tz)
        off = local.utcoffset()
        hpos = (ts + (off.total_seconds() if off is not None else 0.0)) / 3600 - 0.5
        h = math.floor(hpos)
        frac = hpos - h
        day_f = DAILY_PROFILE[h % 24] * (1 - frac) + DAILY_PROFILE[(h + 1) % 24] * frac
        week_f = HOLIDAY_FACTOR if local.date() in self.holidays else WEEKLY_PROFILE[local.weekday()]
        if self.volume_noise <= 0:
            return day_f * week_f
        noise = self._noise("h", h) * (1 - frac) + self._noise("h", h + 1) * frac
        return day_f * week_f * noise * self._noise("d", local.toordinal())

    def _noise(self, kind: str, key: int) -> float:
        """A mean-1 log-normal factor, a pure function of (seed, kind, key)."""
        hit = self._noise_cache.get((kind, key))
        if hit is None:
            if len(self._noise_cache) > 100_000:
                self._noise_cache.clear()
            sigma = self.volume_noise
            z = random.Random(f"{self.seed}|{kind}|{key}").gauss(0.0, 1.0)
            hit = self._noise_cache[(kind, key)] = math.exp(sigma * z - sigma * sigma / 2)
        return hit

    def params(self, at: datetime, team: str, channel: str, region: str | None = None) -> Params:
        """The true ``Params`` of a cell for contacts created at ``at`` (incidents applied)."""
        base = self._params[(team, channel)]
        return self._apply(base, [i for i in self.incidents if i.active(at) and i.matches(team, channel, region or self.regions[0])])

    def true_value(self, kpi: str, at: datetime, *, team: str | None = None, channel: str | None = None,
                   region: str | None = None) -> float:
        """The true value at ``at`` of a KPI (or incident parameter) for a team/channel/region (None: all).

        For contacts created at ``at``: ``volume`` is the expected contacts per hour,
        ``frt`` the wait multiplier, ``frt_avg_s`` the mean first-response time,
        ``nps`` = 100 x (promoters - detractors); any ``Params`` field by name. Over
        several cells each KPI is the ratio of expectations (cells weighted by their
        arrivals x the KPI's denominator), as a window's KPI estimates it.
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
                value, share = _derived(kpi, p, cell.base, cell.target)
                num += w * share * value
                den += w * share
        if den == 0:
            msg = f"true_value({kpi!r}): no matching cell or no arrivals"
            raise ValueError(msg)
        return num / den

    def _apply(self, base: Params, active: Sequence[Incident]) -> Params:
        """``base`` with the active incidents' factors (multiplied when several) and the surge effect."""
        if not active:
            return base
        changes: dict[str, float] = {}
        for inc in active:
            name = inc.parameter
            changes[name] = changes.get(name, getattr(base, name)) * inc.factor
        surge = changes.get("volume", 1.0) / base.volume
        if surge > 1 and self.surge_elasticity > 0:
            # an unplanned surge meets the planned staff: agents answer more slowly
            changes["frt"] = changes.get("frt", base.frt) * surge**self.surge_elasticity
        return replace(base, **{k: min(v, _CAPS.get(k, 1.0)) for k, v in changes.items()})

    def ground_truth(self) -> list[dict[str, Any]]:
        """The injected incidents as JSON-ready records, with the true KPI just before and during each.

        ``before``/``during`` are ``true_value(kpi)`` for the incident's team/channel/region
        (``volume`` in contacts/hour) one second before its start and at its midpoint;
        None where those cells have no arrivals.
        """
        out = []
        for inc in self.incidents:
            kpi = {"frt": "frt_avg_s", "aht": "aht_s"}.get(inc.kpi, inc.kpi)
            dims = {"team": inc.team, "channel": inc.channel, "region": inc.region}
            mid = inc.start + inc.duration / 2
            out.append({
                "incident": str(inc), "kpi": inc.kpi, "factor": inc.factor, **dims,
                "start": inc.start.isoformat(), "end": inc.end.isoformat(), "true_kpi": kpi,
                "before": self._truth_or_none(kpi, inc.start - timedelta(seconds=1), dims),
                "during": self._truth_or_none(kpi, mid, dims),
            })
        return out

    def _truth_or_none(self, kpi: str, at: datetime, dims: dict[str, str | None]) -> float | None:
        try:
            return self.true_value(kpi, at, **dims)
        except ValueError:  # no arrivals in those cells (a team with volume 0)
            return None

    def describe(self) -> str:
        """A few lines for people: teams and volumes, channels and targets, regions, incidents."""
        lines = [
            f"seed {self.seed}, start {self.start.isoformat()}, local time {self.tz}",
            "teams (mean contacts/h on a weekday): " + ", ".join(f"{t} {v:g}" for t, v in self.volumes.items()),
            "channels (answer target): " + ", ".join(f"{c} {self.settings.answer_target_s(c):g} s" for c in self.channels),
            "regions: " + ", ".join(self.regions),
        ]
        lines += [f"incident: {inc}" for inc in self.incidents] or ["no incidents"]
        return "\n".join(lines)

    # --- generation ---------------------------------------------------------------------
    @property
    def contacts(self) -> int:
        """Contacts created so far."""
        return self._contacts

    def events(self, until: datetime | None = None) -> Iterator[ServiceEvent]:
        """Yield the events with ``ts < until`` (forever if None), in timestamp order.

        Deterministic for a seed. A later call continues where this one stopped:
        ``events(t1)`` then ``events(t2)`` gives the same events as ``events(t2)``,
        and so does a call abandoned part-way (``islice``, ``break``) followed by another.
        """
        if until is not None and until.tzinfo is None:
            msg = f"until must be timezone-aware, got {until!r}"
            raise ValueError(msg)
        end = math.inf if until is None else until.timestamp()
        while self._emitted_until < end:
            if self._gen_until <= self._emitted_until:
                chunk_end = self._gen_until + _CHUNK_S
                new = self._generate(self._gen_until, chunk_end)
                self._gen_until = chunk_end
                pending = np.concatenate((self._pending, new))
                self._pending = pending[np.lexsort((pending["seq"], pending["t"]))]
            stop = min(self._gen_until, end)
            cut = int(np.searchsorted(self._pending["t"], stop, side="left"))
            ready = self._pending[:cut]
            self._pending = self._pending[cut:]
            self._emitted_until = stop
            done = 0
            try:
                for ev in self._materialise(ready):
                    done += 1  # counted before the yield: a close() there means it was delivered
                    yield ev
            finally:
                if done < len(ready):  # abandoned part-way: keep the rest for the next call
                    self._pending = np.concatenate((ready[done:], self._pending))
                    self._emitted_until = float(ready["t"][done])

    def _row(self, cell: int, active: tuple[Incident, ...]) -> int:
        """The parameter-table row of a cell under the incidents active (added on first use)."""
        info = self._cell_list[cell]
        mine = tuple(i for i in active if i.matches(info.team, info.channel, info.region))
        key = (cell, mine)
        row = self._rows.get(key)
        if row is None:
            p = self._apply(info.base, mine)
            p0 = info.base.timeout_rate
            a_late = min(0.95, _LATE_ABANDON * p.abandon_rate)
            a_on = max(0.0, (p.abandon_rate - p0 * a_late) / (1 - p0)) if p0 < 1 else 0.0
            f1 = _first_contact_share(p)
            csat_on, csat_late = _csat_split(p, info.base, info.target)
            sigma = 0.6
            values = {
                "a_late": a_late, "a_on": a_on, "f1": f1, "tr": min(p.transfer_rate, 1 - f1),
                "h_mu": math.log(max(p.handle_s, 1.0)) - sigma**2 / 2, "h_sigma": sigma,
                "csat_on": csat_on, "csat_late": csat_late,
                "target": info.target, "n_agents": len(self._agents[info.team]),
                "n_others": len(self._others[info.team]), "vip": float(info.team == "vip"),
                "complaint_general_s": self.settings.targets.complaint_response_general_s,
                "complaint_major_s": self.settings.targets.complaint_response_major_s,
                "feedback_close_s": self.settings.targets.feedback_close_s,
            }
            vector = [values[name] if name in values else float(getattr(p, name)) for name in COLS]
            row = self._rows[key] = len(self._table_rows)
            self._table_rows.append(vector)
            self._table = np.array(self._table_rows, dtype=np.float64)
            self._row_volume.append(p.volume)
        return row

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

    def _team_mix(self, team: str, active: tuple[Incident, ...]) -> tuple[list[int], list[int], np.ndarray, float]:
        """A team's cells, their table rows, cumulative arrival shares and total weight (cached)."""
        key = (team, active)
        hit = self._mix_cache.get(key)
        if hit is None:
            cells = self._team_cells[team]
            rows = [self._row(cell, active) for cell in cells]
            w = np.array([self._cell_list[c].weight * self._row_volume[r] for c, r in zip(cells, rows, strict=True)])
            total = float(w.sum())
            hit = self._mix_cache[key] = (cells, rows, np.cumsum(w) / total if total > 0 else w, total)
        return hit

    def _generate(self, t_from: float, t_to: float) -> np.ndarray:
        """The events of the contacts arriving in [t_from, t_to), unsorted."""
        rng = self._np_rng
        starts, durs, lam, cells, rows, cums = [], [], [], [], [], []
        for step, step_end, active in self._steps(t_from, t_to):
            rhythm = self.rhythm((step + step_end) / 2)
            for team in self.teams:
                team_cells, team_rows, cum, total = self._team_mix(team, active)
                starts.append(step)
                durs.append(step_end - step)
                lam.append(self.volumes[team] / 3600.0 * rhythm * total * (step_end - step))
                cells.append(team_cells)
                rows.append(team_rows)
                cums.append(cum)
        counts = rng.poisson(np.array(lam))
        k = int(counts.sum())
        if k == 0:
            return np.empty(0, EVENT_DTYPE)
        group = np.repeat(np.arange(len(lam)), counts)
        draws = rng.random((2, k))
        t = np.array(starts)[group] + np.array(durs)[group] * draws[0]
        # pick each contact's cell by its group's cumulative shares, all groups at once
        width = len(cums[0])
        offset_cum = (np.array(cums) + np.arange(len(cums))[:, None]).ravel()
        local = np.searchsorted(offset_cum, draws[1] + group, side="right") - group * width
        local = np.clip(local, 0, width - 1)
        cell = np.array(cells)[group, local]
        row = np.array(rows)[group, local]
        # lives in blocks, to bound the memory of the per-contact draws at high volumes
        parts = [
            contact_events(rng, t[i : i + _BLOCK], self._contacts + 1 + i, cell[i : i + _BLOCK], row[i : i + _BLOCK],
                           self._table)
            for i in range(0, k, _BLOCK)
        ]
        self._contacts += k
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def _materialise(self, ready: np.ndarray) -> Iterator[ServiceEvent]:
        """ServiceEvents from rows of ``EVENT_DTYPE`` (in order), a slice at a time."""
        for i in range(0, len(ready), 8192):
            yield from self._materialise_slice(ready[i : i + 8192])

    def _timestamps(self, t: np.ndarray) -> list[datetime]:
        """Aware datetimes in the center's zone, to the microsecond (as ``fromtimestamp`` would give)."""
        first, last = float(t[0]), float(t[-1])
        off = datetime.fromtimestamp(first, self.tz).utcoffset()
        if off is None or off != datetime.fromtimestamp(last, self.tz).utcoffset():
            return [datetime.fromtimestamp(x, self.tz) for x in t.tolist()]  # a DST change inside: exact, slower
        origin = math.floor(first)
        base = datetime.fromtimestamp(origin, timezone(off))
        deltas = np.round((t - origin) * 1e6).astype(np.int64).astype("timedelta64[us]").tolist()
        return [base + d for d in deltas]

    def _materialise_slice(self, ready: np.ndarray) -> Iterator[ServiceEvent]:
        if len(ready) == 0:
            return
        se = ServiceEvent
        prefix = self._prefix
        cells = self._cell_names
        agents = self._cell_agents
        others = self._cell_others
        tiers = TIERS
        durations = self.durations
        cols = [ready[name].tolist() for name in ("seq", "kind", "cell", "tier", "a", "b")]
        for ts, seq, kind, cell, tier, a, b in zip(self._timestamps(ready["t"]), *cols, strict=True):
            team, channel, region = cells[cell]
            cid = f"{prefix}-{seq >> 4}"
            eid = f"{cid}.{seq & 15}"
            if kind == CREATED:
                yield se(event_id=eid, type="contact.created", ts=ts, contact_id=cid, team=team, channel=channel,
                         region=region, customer_tier=tiers[tier])
            elif kind == FR_AGENT:
                yield se(event_id=eid, type="contact.first_response", ts=ts, contact_id=cid, team=team,
                         channel=channel, region=region, customer_tier=tiers[tier], by="agent", agent_id=agents[cell][b],
                         wait_s=round(a, 3) if durations else None)
            elif kind in (RESOLVED_FC, RESOLVED_NOT):
                yield se(event_id=eid, type="contact.resolved", ts=ts, contact_id=cid, team=team, channel=channel,
                         region=region, customer_tier=tiers[tier], first_contact=kind == RESOLVED_FC,
                         handle_s=round(a, 1), agent_id=agents[cell][b])
            elif kind in (CSAT, NPS):
                yield se(event_id=eid, type=TYPES[kind], ts=ts, contact_id=cid, team=team, channel=channel,
                         region=region, customer_tier=tiers[tier], score=int(a))
            elif kind == FR_BOT:
                yield se(event_id=eid, type="contact.first_response", ts=ts, contact_id=cid, team=team,
                         channel=channel, region=region, customer_tier=tiers[tier], by="bot",
                         wait_s=round(a, 3) if durations else None)
            elif kind == ABANDONED:
                yield se(event_id=eid, type="contact.abandoned", ts=ts, contact_id=cid, team=team, channel=channel,
                         region=region, customer_tier=tiers[tier], wait_s=round(a, 3) if durations else None)
            elif kind == TRANSFERRED:
                yield se(event_id=eid, type="contact.transferred", ts=ts, contact_id=cid, team=team, channel=channel,
                         region=region, customer_tier=tiers[tier], to_team=others[cell][int(a)],
                         agent_id=agents[cell][b] if b >= 0 else None)
            elif kind in (C_OPEN_GENERAL, C_OPEN_MAJOR):
                yield se(event_id=eid, type="complaint.opened", ts=ts, contact_id=cid, team=team, channel=channel,
                         region=region, customer_tier=tiers[tier], severity="major" if kind == C_OPEN_MAJOR else "general")
            elif kind == C_RESPONDED:
                yield se(event_id=eid, type="complaint.responded", ts=ts, contact_id=cid, team=team, channel=channel,
                         region=region, customer_tier=tiers[tier], response_s=round(a, 3) if durations else None)
            else:
                yield se(event_id=eid, type=TYPES[kind], ts=ts, contact_id=cid, team=team, channel=channel,
                         region=region, customer_tier=tiers[tier])


def _first_contact_share(p: Params) -> float:
    """P(first contact | resolved in the session), so that fcr_rate = FCR events / resolved events.

    Per answered contact there are 1 + r*q resolved events (r = resolve_rate, q =
    reopen_rate: a reopened contact is resolved twice, the later ones never on first
    contact) of which r*f1 on first contact.
    """
    r = p.resolve_rate
    return min(1.0, p.fcr_rate * (1 + r * p.reopen_rate) / r) if r > 0 else 0.0


def _csat_split(p: Params, base: Params, target: float) -> tuple[float, float]:
    """P(CSAT 4-5) for contacts answered in time and late, averaging ``p.csat`` at the base lateness.

    Late answers score ``CSAT_LATE_PENALTY`` lower; the on-time share is raised so that
    the mean over the cell's normal mix of late and on-time answers is ``p.csat``. A
    timeout or first-response incident makes more answers late: CSAT falls with it.
    """
    a_late = min(0.95, _LATE_ABANDON * base.abandon_rate)
    a_on = max(0.0, (base.abandon_rate - base.timeout_rate * a_late) / (1 - base.timeout_rate)) if base.timeout_rate < 1 else 0.0
    answered = base.timeout_rate * (1 - a_late) + (1 - base.timeout_rate) * (1 - a_on)
    late0 = base.timeout_rate * (1 - a_late) / answered if answered > 0 else 0.0
    csat_late = max(0.0, p.csat - CSAT_LATE_PENALTY)
    csat_on = min(1.0, (p.csat - late0 * csat_late) / (1 - late0)) if late0 < 1 else csat_late
    return csat_on, csat_late


def _derived(kpi: str, p: Params, base: Params, target: float) -> tuple[float, float]:
    """(expected KPI, its denominator per contact) of a cell with effective params ``p``.

    ``base`` is the cell without incidents (the abandon split depends on its timeout
    rate), ``target`` the channel's answer target. Averaging ``value`` over cells
    weighted by ``rate x denominator`` gives the expected KPI of the aggregate.
    """
    p0, to, frt = base.timeout_rate, p.timeout_rate, p.frt
    a_late = min(0.95, _LATE_ABANDON * p.abandon_rate)
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
        return p.resolve_rate * _first_contact_share(p) / (1 + p.resolve_rate * p.reopen_rate), resolved_events
    if kpi == "aht_s":
        return p.handle_s, resolved_events
    if kpi == "csat":
        slow = max(0.0, 1 - frt ** (-1 / GAMMA)) if frt > 1 else 0.0
        late = (to * (1 - a_late) + agent_on * slow) / answered if answered > 0 else 0.0
        csat_on, csat_late = _csat_split(p, base, target)
        return late * csat_late + (1 - late) * csat_on, answered * p.survey_rate
    if kpi == "nps":
        return 100 * (p.nps_promoters - p.nps_detractors), answered * p.nps_rate
    name = INCIDENT_KPIS.get(kpi, kpi)
    if name in PARAM_NAMES:
        return float(getattr(p, name)), 1.0
    msg = f"true_value: unknown KPI {kpi!r}"
    raise ValueError(msg)


