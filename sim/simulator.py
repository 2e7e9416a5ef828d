"""A seeded, fast simulator of a contact center producing ``ServiceEvent``s.

Teams, channels and regions come from ``Settings``. Contacts arrive as a
non-homogeneous Poisson process (rate constant within each minute) whose rate follows a
daily rhythm (quiet nights, a morning and an afternoon peak, a lunch dip), a
weekly one (weekends lower; holidays optional) and a little seeded day/hour noise.
Each contact then lives its life (vectorised in ``sim.core``):

    contact.created → contact.first_response (agent or bot) | contact.abandoned
      → [contact.transferred] → contact.resolved (first_contact, handle_s)
      → [contact.reopened → contact.resolved]
      → [survey.csat] [survey.nps] [complaint.opened → .responded → .resolved]
      → [feedback.received → feedback.closed]

The probabilities are ``Params`` per (team, channel): channel defaults, times a
team profile, overridden by ``rates``. Incidents (``sim.incidents.Incident``)
scale one parameter for the contacts created during their interval (a volume surge
also slows the agents: ``surge_elasticity``); the resolved incidents,
``Simulator.true_value`` and ``Simulator.ground_truth`` are the ground truth.

Parameters are defined as the KPI the dataflow measures (docs/events.md), so that a
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
import zlib
from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import date, datetime, timezone, tzinfo

import numpy as np

from sim.center import Center
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
    NPS,
    RESOLVED_FC,
    RESOLVED_NOT,
    TIERS,
    TRANSFERRED,
    TYPES,
    contact_events,
)
from sim.incidents import Incident, IncidentError
from sim.io import paced, write_ndjson, write_stream
from sim.params import DEFAULT_VOLUMES, LATE_ABANDON, Params, csat_split, first_contact_share
from sim.text import Catalogue, TextMix, TextSurge, assign_texts
from sqm.config import Settings
from sqm.models import ServiceEvent

__all__ = [
    "DEFAULT_VOLUMES",
    "Incident",
    "IncidentError",
    "Params",
    "Simulator",
    "TextMix",
    "TextSurge",
    "paced",
    "write_ndjson",
    "write_stream",
]

_CHUNK_S = 3600.0  # arrivals are generated an hour at a time
_BLOCK = 32_768  # contacts per vectorised call


class Simulator(Center):
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
    - ``text``: what customers write (``sim.text.TextMix``: opening messages that depend on
      how the contact ends, CSAT comments, complaint descriptions, planted term surges);
      None: no text. It changes no other field of any event.

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
        text: TextMix | None = None,
    ) -> None:
        super().__init__(settings, seed=seed, start=start, volumes=volumes, incidents=incidents, rates=rates,
                         channel_mix=channel_mix, region_mix=region_mix, holidays=holidays, tz=tz,
                         volume_noise=volume_noise, surge_elasticity=surge_elasticity)
        self.durations = durations
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
        self.text = text
        if text is not None:
            for surge in text.surges:
                if surge.team is not None and surge.team not in self.teams:
                    msg = f"text surge {surge.term!r}: unknown team {surge.team!r} (known: {', '.join(self.teams)})"
                    raise ValueError(msg)
            self._catalogue = Catalogue(text.surges)
            self._text_rng = np.random.default_rng([seed, 0x7E47])
            self._texty_cell = np.array([c.channel in text.channels for c in self._cell_list])
            self._cell_team = np.array([self.teams.index(c.team) for c in self._cell_list])
            self._surge_teams = [None if s.team is None else self.teams.index(s.team) for s in text.surges]


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
            a_late = min(0.95, LATE_ABANDON * p.abandon_rate)
            a_on = max(0.0, (p.abandon_rate - p0 * a_late) / (1 - p0)) if p0 < 1 else 0.0
            f1 = first_contact_share(p)
            csat_on, csat_late = csat_split(p, info.base, info.target)
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
        out = parts[0] if len(parts) == 1 else np.concatenate(parts)
        if self.text is not None:
            assign_texts(self._text_rng, out, self.text, self._catalogue, self._texty_cell, self._cell_team,
                         self._surge_teams)
        return out

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
        texts = self._catalogue.texts if self.text is not None else []
        cols = [ready[name].tolist() for name in ("seq", "kind", "cell", "tier", "a", "b", "txt")]
        for ts, seq, kind, cell, tier, a, b, txt in zip(self._timestamps(ready["t"]), *cols, strict=True):
            team, channel, region = cells[cell]
            cid = f"{prefix}-{seq >> 4}"
            eid = f"{cid}.{seq & 15}"
            if kind == CREATED:
                yield se(event_id=eid, type="contact.created", ts=ts, contact_id=cid, team=team, channel=channel,
                         region=region, customer_tier=tiers[tier], text=texts[txt] if txt >= 0 else None)
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
                         region=region, customer_tier=tiers[tier], score=int(a), text=texts[txt] if txt >= 0 else None)
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
                         region=region, customer_tier=tiers[tier], severity="major" if kind == C_OPEN_MAJOR else "general",
                         text=texts[txt] if txt >= 0 else None)
            elif kind == C_RESPONDED:
                yield se(event_id=eid, type="complaint.responded", ts=ts, contact_id=cid, team=team, channel=channel,
                         region=region, customer_tier=tiers[tier], response_s=round(a, 3) if durations else None)
            else:
                yield se(event_id=eid, type=TYPES[kind], ts=ts, contact_id=cid, team=team, channel=channel,
                         region=region, customer_tier=tiers[tier])
