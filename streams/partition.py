"""Per-partition work: validate, dedupe, drop late events, derive durations, bucket.

``PartitionState`` is the state of one source partition (one ``sqm:events:{p}``
stream, i.e. a set of teams). ``process`` takes a chunk of raw stream entries and
returns what changed: per-(minute, team, channel, region) accumulator deltas
(``streams.accum``), dead-letter records and the partition's watermark. It is a
plain function of ``(state, chunk)``, tested without a dataflow.

Event time: the watermark is ``max(event ts seen) - allowed_lateness``, advanced
on system time once the partition has been idle ``idle_close_s`` wall seconds,
and never moves back. Idle means *read and found empty*: only an empty read (a
tick) proves that nothing came since the last entries, so the advance runs up to
the last tick, never up to "now" — a stream whose entries wait unread while the
flow is busy elsewhere is not idle, and its events are not made late by it. An
event older than the watermark is *late*: counted and dead-lettered, never
bucketed. Every delta therefore lands in a minute that ends
after the watermark, i.e. one the roll-up has not closed.

Per-contact state (``contacts``, ``complaints``: ``streams.contacts``) lives until
nothing within the lateness can change it. Dedupe remembers event ids for at least
``dedupe_horizon_s`` of watermark time and at most twice that: two generations of
ids (sets), the older dropped whole when the newer is a horizon old, so forgetting
costs nothing per event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqm.config import Settings
from sqm.errors import InvalidEvent
from sqm.eventlog import DeadLetter, dead_letter
from sqm.models import ServiceEvent, decode_events, encode
from streams.accum import Acc, Deltas, Dims
from streams.contacts import (
    ABANDON,
    ANSWER,
    Complaint,
    Contact,
    complaint_opened,
    complaint_responded,
    created,
    ended,
    forget_settled,
    forget_too_old,
)
from streams.state import Record, Records, restore_records

SWEEP_S = 600.0
"""Event seconds between sweeps of too-old contacts."""


@dataclass
class Chunk:
    """What the source emits for one partition: stream entries read (or none: a tick)."""

    part: str
    entries: list[tuple[bytes, bytes]]
    """(entry id, field ``e``)."""
    last_id: bytes | None = None


@dataclass
class PartOut:
    """What one chunk changed, sent to the roll-up."""

    part: str
    wm: float | None
    deltas: Deltas
    dlq: list[DeadLetter]
    stats: dict[str, int]


@dataclass
class Params:
    lateness: float
    idle_close: float
    horizon: float
    max_age: float
    targets: dict[str, float]
    default_target: float
    cpl_general: float
    cpl_major: float

    @classmethod
    def of(cls, settings: Settings) -> Params:
        s = settings.streams
        return cls(
            lateness=s.allowed_lateness_s,
            idle_close=s.idle_close_s,
            horizon=max(s.dedupe_horizon_s, s.allowed_lateness_s),
            max_age=s.contact_max_age_s,
            targets=settings.answer_targets,
            default_target=settings.targets.frt_avg_s,
            cpl_general=settings.targets.complaint_response_general_s,
            cpl_major=settings.targets.complaint_response_major_s,
        )


def _new_stats() -> dict[str, int]:
    return {"events": 0, "duplicate": 0, "late": 0, "invalid": 0}


_V0_FIELDS = ("part", "max_ts", "wm_floor", "wall_last", "wall_idle", "next_sweep", "contacts", "complaints", "seen",
              "seen_old", "seen_since", "done", "stats")
"""``PartitionState``'s fields before state versions (its records were lists then)."""


@dataclass(slots=True)
class PartitionState(Record):
    """One stream's state: its event time, the contacts and complaints it tracks, the event ids it has seen."""

    VERSION = 1
    part: str
    max_ts: float | None = None
    wm_floor: float | None = None
    wall_last: float = 0.0
    """Wall time of the last read that returned entries (or of the resume: downtime is not idleness)."""
    wall_idle: float | None = None
    """Wall time of the latest empty read since then: the stream had nothing new from ``wall_last`` to it."""
    next_sweep: float = 0.0
    contacts: Records[Contact] = field(default_factory=lambda: Records(Contact))
    complaints: Records[Complaint] = field(default_factory=lambda: Records(Complaint))
    seen: set[str] = field(default_factory=set)
    """Event ids counted since ``seen_since`` (watermark time)."""
    seen_old: set[str] = field(default_factory=set)
    """The generation before: ids counted during the horizon before ``seen_since``."""
    seen_since: float | None = None
    done: dict[int, list[tuple[int, str]]] = field(default_factory=dict)
    """Records that may go once the watermark passes a time, by that time's minute: (CONTACT or COMPLAINT, id)."""
    stats: dict[str, int] = field(default_factory=_new_stats)

    @classmethod
    def upgrade(cls, old: Any, version: int) -> tuple[Any, ...]:
        if version == 0:  # the dataclass's __dict__, contacts and complaints as lists
            values = dict(old)
            values["contacts"] = restore_records(Contact, 0, old["contacts"])
            values["complaints"] = restore_records(Complaint, 0, old["complaints"])
            return tuple(values[name] for name in _V0_FIELDS)
        return super().upgrade(old, version)

    def watermark(self, p: Params) -> float | None:
        """Newest ts - lateness, plus the wall time beyond ``idle_close`` that reads proved idle; never back."""
        if self.max_ts is None:
            return self.wm_floor
        idle = 0.0 if self.wall_idle is None else max(0.0, self.wall_idle - self.wall_last - p.idle_close)
        wm = self.max_ts - p.lateness + idle
        return wm if self.wm_floor is None else max(wm, self.wm_floor)

    def resumed(self, p: Params, wall: float) -> None:
        """After a restart: keep the idle advance reached so far; idleness counts afresh from ``wall``."""
        self.wm_floor = self.watermark(p)
        self.wall_last, self.wall_idle = wall, None


def process(state: PartitionState, chunk: Chunk, p: Params, wall: float) -> PartOut:
    """Apply one chunk to ``state``; return the deltas, rejects and the new watermark."""
    deltas: Deltas = {}
    dlq: list[DeadLetter] = []
    stats = state.stats
    state.part = chunk.part
    if chunk.entries:
        # fold the idle advance proved by the empty reads (if any) into the floor before event time moves on;
        # the time since the last empty read is not idleness: these entries may have waited unread all along
        state.wm_floor = state.watermark(p)
        for entry_id, raw in chunk.entries:
            source = _source(chunk.part, entry_id)
            try:
                events = decode_events(raw)
            except InvalidEvent as err:
                stats["invalid"] += 1
                dlq.append(dead_letter(reason=str(err), field=err.field, source=source, raw=raw))
                continue
            _apply_all(state, events, deltas, p, dlq, source)
        state.wall_last, state.wall_idle = wall, None
    else:
        state.wall_idle = wall  # read and found empty: nothing came since wall_last
    wm = state.watermark(p)
    if wm is not None:
        _evict(state, wm, p, deltas)
    return PartOut(chunk.part, wm, deltas, dlq, dict(stats))


def _source(part: str, entry_id: bytes | str) -> str:
    return f"{part}/{entry_id.decode() if isinstance(entry_id, bytes) else entry_id}"


def _apply_all(state: PartitionState, events: list[ServiceEvent], deltas: Deltas, p: Params,
               dlq: list[DeadLetter], source: str) -> None:
    """The hot loop: dedupe, lateness, then the three commonest events' counts inline; the others by table."""
    seen, seen_old = state.seen, state.seen_old
    lateness = p.lateness
    max_ts, floor = state.max_ts, state.wm_floor
    wm = floor if max_ts is None else _event_wm(max_ts, lateness, floor)
    n_events = n_dup = 0
    for ev in events:
        eid = ev.event_id
        if eid in seen or eid in seen_old:
            n_dup += 1
            continue
        ts = ev.ts.timestamp()
        if wm is not None and ts < wm:
            _late(state, ev, ts, wm, lateness, dlq, source)
            continue
        seen.add(eid)
        n_events += 1
        if max_ts is None or ts > max_ts:
            max_ts = state.max_ts = ts
            wm = _event_wm(ts, lateness, floor)
        dims = (ev.team, ev.channel, ev.region)
        key = (int(ts // 60), dims)
        acc = deltas.get(key)
        if acc is None:
            acc = deltas[key] = Acc()
        kind = ev.type
        if kind == "contact.created":
            acc.created += 1
            acc.d_open += 1
            created(state, ev, ts, dims, acc, deltas, p)
        elif kind == "contact.first_response":
            acc.answered += 1
            ended(state, ev.contact_id, ts, ANSWER, dims, ev.response_s if ev.response_s is not None else ev.wait_s,
                  acc, deltas, p)
        elif kind == "contact.resolved":
            acc.resolved += 1
            acc.d_open -= 1
            if ev.first_contact is not None:
                acc.fcr_n += 1
                acc.fcr_yes += ev.first_contact
            if ev.handle_s is not None:
                acc.aht_n += 1
                acc.aht_sum += ev.handle_s
        else:
            count = _COUNTS.get(kind)
            if count is not None:  # contact.transferred, complaint.resolved, feedback.*: no KPI of their own
                count(state, ev, ts, dims, acc, deltas, p)
    state.stats["events"] += n_events
    state.stats["duplicate"] += n_dup


def _event_wm(max_ts: float, lateness: float, floor: float | None) -> float:
    wm = max_ts - lateness
    return wm if floor is None or wm >= floor else floor


def _late(state: PartitionState, ev: ServiceEvent, ts: float, wm: float, lateness: float, dlq: list[DeadLetter],
          source: str) -> None:
    state.stats["late"] += 1
    msg = f"late: ts {ev.ts.isoformat()} is {wm - ts:.0f} s behind the watermark (allowed lateness {lateness:.0f} s)"
    dlq.append(dead_letter(reason=msg, field="ts", source=source, raw=encode(ev)))


def _abandoned(state: PartitionState, ev: ServiceEvent, ts: float, dims: Dims, acc: Acc, deltas: Deltas,
               p: Params) -> None:
    acc.abandoned += 1
    acc.d_open -= 1
    ended(state, ev.contact_id, ts, ABANDON, dims, ev.wait_s, acc, deltas, p)


def _reopened(state: PartitionState, ev: ServiceEvent, ts: float, dims: Dims, acc: Acc, deltas: Deltas,
              p: Params) -> None:
    acc.d_open += 1


def _csat(state: PartitionState, ev: ServiceEvent, ts: float, dims: Dims, acc: Acc, deltas: Deltas,
          p: Params) -> None:
    acc.csat_n += 1
    acc.csat_good += (ev.score or 0) >= 4  # (a survey always has a score: decode_events checks it)


def _nps(state: PartitionState, ev: ServiceEvent, ts: float, dims: Dims, acc: Acc, deltas: Deltas,
         p: Params) -> None:
    score = ev.score or 0
    acc.nps_n += 1
    acc.nps_pro += score >= 9
    acc.nps_det += score <= 6


def _complaint(state: PartitionState, ev: ServiceEvent, ts: float, dims: Dims, acc: Acc, deltas: Deltas,
               p: Params) -> None:
    acc.complaints += 1
    complaint_opened(state, ev, ts, dims, deltas, p)


def _complaint_answer(state: PartitionState, ev: ServiceEvent, ts: float, dims: Dims, acc: Acc, deltas: Deltas,
                      p: Params) -> None:
    complaint_responded(state, ev, ts, deltas)


Count = Callable[[PartitionState, ServiceEvent, float, Dims, Acc, Deltas, Params], None]
_COUNTS: dict[str, Count] = {
    "contact.abandoned": _abandoned,
    "contact.reopened": _reopened,
    "survey.csat": _csat,
    "survey.nps": _nps,
    "complaint.opened": _complaint,
    "complaint.responded": _complaint_answer,
}
"""What each of the rarer event types counts (the hot loop has the three commonest inline)."""


def _evict(state: PartitionState, wm: float, p: Params, deltas: Deltas) -> None:
    """Forget what no event within the lateness can still need."""
    forget_settled(state, wm)
    if state.seen_since is None:
        state.seen_since = wm
    elif wm >= state.seen_since + p.horizon:  # the older generation is now beyond the horizon: drop it whole
        state.seen_old, state.seen, state.seen_since = state.seen, set(), wm
    if wm >= state.next_sweep:
        state.next_sweep = wm + SWEEP_S
        forget_too_old(state, wm, p.max_age, deltas)
