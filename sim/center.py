"""The simulated center's structure and ground truth: teams, channels, regions, cells, rhythm, incidents.

``Center`` is what the simulator's events are drawn from: per cell (team, channel,
region) its true ``Params`` and share of the team's arrivals, the arrival rhythm,
and the incidents; ``true_value`` and ``ground_truth`` answer what a KPI should read.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from sim.incidents import Incident, IncidentError
from sim.params import (
    CAPS,
    CHANNEL_DEFAULTS,
    CHANNEL_MIX,
    DAILY_PROFILE,
    DEFAULT_VOLUMES,
    HOLIDAY_FACTOR,
    OTHER_TEAM_VOLUME,
    PARAM_NAMES,
    TEAM_PROFILES,
    WEEKLY_PROFILE,
    Params,
    derived,
)
from sqm.config import Settings

_NAME = re.compile(r"^[^\s:*|,=]{1,64}$")


@dataclass(frozen=True, slots=True)
class _Cell:
    team: str
    channel: str
    region: str
    target: float
    base: Params
    weight: float  # share of the team's arrivals


class Center:
    """A contact center's structure and ground truth; ``Simulator`` draws its events (arguments there)."""

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

    # --- configuration ------------------------------------------------------------------
    def _cell_params(self, team: str, channel: str, rates: Mapping[str, Mapping[str, float]]) -> Params:
        p = CHANNEL_DEFAULTS.get(channel, Params())
        for name, mult in TEAM_PROFILES.get(team, {}).items():
            p = replace(p, **{name: min(getattr(p, name) * mult, CAPS.get(name, 1.0))})
        for key in (channel, team, f"{team}/{channel}"):
            for name, value in rates.get(key, {}).items():
                if name not in PARAM_NAMES:
                    msg = f"rates[{key!r}]: unknown parameter {name!r} (known: {', '.join(sorted(PARAM_NAMES))})"
                    raise ValueError(msg)
                if not 0 <= value <= CAPS.get(name, 1.0):
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
                value, share = derived(kpi, p, cell.base, cell.target)
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
        return replace(base, **{k: min(v, CAPS.get(k, 1.0)) for k, v in changes.items()})

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
