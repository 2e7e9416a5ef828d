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

Per-contact state (``contacts``) lives from the first of a contact's events until
both its creation and its first answer/abandon are known and the watermark has
passed them (or ``contact_max_age_s``); complaints likewise. Dedupe remembers
event ids for at least ``dedupe_horizon_s`` of watermark time and at most twice that:
two generations of ids (sets), the older dropped whole when the newer is a horizon
old, so forgetting costs nothing per event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqm.config import Settings
from sqm.errors import InvalidEvent
from sqm.models import ServiceEvent, decode_events, encode
from streams import accum as A

Dims = tuple[str, str, str]
Deltas = dict[tuple[int, Dims], A.Acc]

# contact record (a list, cheap to pickle): created ts, created dims, answer target,
# first answer/abandon ts, its kind, its dims, its duration if sent, done flag
C_TS, C_DIMS, C_T, C_TAU, C_KIND, C_TDIMS, C_DUR = range(7)
ANSWER, ABANDON = 1, 2
# complaint record: opened ts, dims, response target, responded ts, response_s
P_O, P_DIMS, P_T, P_R, P_RS = range(5)
CONTACT, COMPLAINT = 0, 1

SWEEP_S = 600.0
"""Event seconds between sweeps of the dedupe memory and of too-old contacts."""


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
    dlq: list[dict[str, Any]]
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


@dataclass
class PartitionState:
    part: str
    max_ts: float | None = None
    wm_floor: float | None = None
    wall_last: float = 0.0
    """Wall time of the last read that returned entries (or of the resume: downtime is not idleness)."""
    wall_idle: float | None = None
    """Wall time of the latest empty read since then: the stream had nothing new from ``wall_last`` to it."""
    next_sweep: float = 0.0
    contacts: dict[str, list[Any]] = field(default_factory=dict)
    complaints: dict[str, list[Any]] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)
    """Event ids counted since ``seen_since`` (watermark time)."""
    seen_old: set[str] = field(default_factory=set)
    """The generation before: ids counted during the horizon before ``seen_since``."""
    seen_since: float | None = None
    done: dict[int, list[tuple[int, str]]] = field(default_factory=dict)
    """Records that may go once the watermark passes a time, by that time's minute: (CONTACT or COMPLAINT, id).
    Minute buckets, not a heap: appending is cheaper than ordering, and a record going up to a minute
    later changes nothing."""
    stats: dict[str, int] = field(default_factory=lambda: {"events": 0, "duplicate": 0, "late": 0, "invalid": 0})

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


def _acc(deltas: Deltas, m: int, dims: Dims) -> A.Acc:
    key = (m, dims)
    acc = deltas.get(key)
    if acc is None:
        acc = deltas[key] = A.new_acc()
    return acc


def _mins(ts: float) -> int:
    return int(ts // 60)


def _dead(reason: str, fld: str, raw: bytes, source: str) -> dict[str, Any]:
    return {"reason": reason, "field": fld, "raw": raw, "source": source}


def process(state: PartitionState, chunk: Chunk, p: Params, wall: float) -> PartOut:
    """Apply one chunk to ``state``; return the deltas, rejects and the new watermark."""
    deltas: Deltas = {}
    dlq: list[dict[str, Any]] = []
    stats = state.stats
    state.part = chunk.part
    if chunk.entries:
        # fold the idle advance proved by the empty reads (if any) into the floor before event time moves on;
        # the time since the last empty read is not idleness: these entries may have waited unread all along
        state.wm_floor = state.watermark(p)
        n_events = n_dup = 0
        for entry_id, raw in chunk.entries:
            try:
                events = decode_events(raw)
            except InvalidEvent as err:
                stats["invalid"] += 1
                dlq.append(_dead(str(err), err.field, raw, _source(chunk.part, entry_id)))
                continue
            n_events, n_dup = _apply_all(state, events, deltas, p, dlq, chunk.part, entry_id, n_events, n_dup)
        stats["events"] += n_events
        stats["duplicate"] += n_dup
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
               dlq: list[dict[str, Any]], part: str, entry_id: bytes, n_events: int, n_dup: int) -> tuple[int, int]:
    """The hot loop: dedupe, lateness, then the event's own counts inline; durations in helpers."""
    seen, seen_old = state.seen, state.seen_old
    lateness = p.lateness
    max_ts = state.max_ts
    floor = state.wm_floor
    new = A.new_acc
    for ev in events:
        eid = ev.event_id
        if eid in seen or eid in seen_old:
            n_dup += 1
            continue
        ts = ev.ts.timestamp()
        wm = max_ts - lateness if max_ts is not None else floor
        if floor is not None and wm is not None and floor > wm:
            wm = floor
        if wm is not None and ts < wm:
            state.stats["late"] += 1
            msg = f"late: ts {ev.ts.isoformat()} is {wm - ts:.0f} s behind the watermark (allowed lateness {lateness:.0f} s)"
            dlq.append(_dead(msg, "ts", encode(ev), _source(part, entry_id)))
            continue
        seen.add(eid)
        n_events += 1
        if max_ts is None or ts > max_ts:
            max_ts = state.max_ts = ts
        dims = (ev.team, ev.channel, ev.region)
        key = (int(ts // 60), dims)
        acc = deltas.get(key)
        if acc is None:
            acc = deltas[key] = new()
        kind = ev.type
        if kind == "contact.created":
            acc[A.CREATED] += 1
            acc[A.D_OPEN] += 1
            _created(state, ev, ts, dims, acc, deltas, p)
        elif kind == "contact.first_response":
            acc[A.ANSWERED] += 1
            dur = ev.response_s if ev.response_s is not None else ev.wait_s
            _ended(state, ev.contact_id, ts, ANSWER, dims, dur, acc, deltas, p)
        elif kind == "contact.resolved":
            acc[A.RESOLVED] += 1
            acc[A.D_OPEN] -= 1
            if ev.first_contact is not None:
                acc[A.FCR_N] += 1
                acc[A.FCR_YES] += ev.first_contact
            if ev.handle_s is not None:
                acc[A.AHT_N] += 1
                acc[A.AHT_SUM] += ev.handle_s
        elif kind == "contact.abandoned":
            acc[A.ABANDONED] += 1
            acc[A.D_OPEN] -= 1
            _ended(state, ev.contact_id, ts, ABANDON, dims, ev.wait_s, acc, deltas, p)
        elif kind == "survey.csat":
            acc[A.CSAT_N] += 1
            acc[A.CSAT_GOOD] += ev.score >= 4  # type: ignore[operator]
        elif kind == "survey.nps":
            acc[A.NPS_N] += 1
            acc[A.NPS_PRO] += ev.score >= 9  # type: ignore[operator]
            acc[A.NPS_DET] += ev.score <= 6  # type: ignore[operator]
        elif kind == "contact.reopened":
            acc[A.D_OPEN] += 1
        elif kind == "complaint.opened":
            acc[A.COMPLAINTS] += 1
            _complaint_opened(state, ev, ts, dims, deltas, p)
        elif kind == "complaint.responded":
            _complaint_responded(state, ev, ts, deltas)
        # contact.transferred, complaint.resolved, feedback.*: no KPI of their own
    return n_events, n_dup


def _target(p: Params, channel: str) -> float:
    return p.targets.get(channel, p.default_target)


def _created(state: PartitionState, ev: ServiceEvent, ts: float, dims: Dims, acc: A.Acc, deltas: Deltas,
             p: Params) -> None:
    con = state.contacts.get(ev.contact_id)
    target = p.targets.get(ev.channel, p.default_target)
    if con is None:
        state.contacts[ev.contact_id] = [ts, dims, target, None, 0, None, None]
        acc[A.D_WAITING] += 1
        _acc(deltas, int((ts + target) // 60), dims)[A.D_OVER] += 1
    elif con[C_TS] is None:
        con[C_TS], con[C_DIMS], con[C_T] = ts, dims, target
        _created_after_end(state, ev.contact_id, con, deltas)


def _closed_stats(acc: A.Acc, kind: int, dur: float, target: float) -> None:
    """An answer or abandon with a known wait, in ``acc``: the bucket of its own minute and dims."""
    if kind == ANSWER:
        A.add_frt(acc, dur, target)
    else:
        acc[A.CLOSED_N] += 1
        if dur > target:
            acc[A.CLOSED_LATE] += 1


def _ended(state: PartitionState, cid: str, tau: float, kind: int, dims: Dims, dur: float | None, acc: A.Acc,
           deltas: Deltas, p: Params) -> None:
    """The first answer or abandon of a contact, at ``tau`` in ``dims``; ``acc`` is the bucket of that minute."""
    con = state.contacts.get(cid)
    if con is None:
        # answered/abandoned before its creation arrived: remember; stats now if the duration came along
        state.contacts[cid] = [None, None, None, tau, kind, dims, dur]
        _may_go(state, tau, CONTACT, cid)  # a creation after tau would be late
        if dur is not None:
            _closed_stats(acc, kind, dur, _target(p, dims[1]))
        return
    if con[C_TAU] is not None:
        return  # only the first answer or abandon ends the wait
    con[C_TAU], con[C_KIND], con[C_TDIMS], con[C_DUR] = tau, kind, dims, dur
    c, target = con[C_TS], con[C_T]
    if c is None:
        return
    _closed_stats(acc, kind, dur if dur is not None else max(0.0, tau - c), target)
    _cancel_wait(deltas, c, tau, con[C_DIMS], target)
    _may_go(state, max(tau, c), CONTACT, cid)


def _cancel_wait(deltas: Deltas, c: float, tau: float, dims: Dims, target: float) -> None:
    """Created first (+1 waiting at c, +1 over at c+T placed); now it ends at tau."""
    end = _mins(max(tau, c))
    over_at = _mins(c + target)
    _acc(deltas, end, dims)[A.D_WAITING] -= 1
    # the over span is [over_at, end): empty when end <= over_at -> cancel the +1 at over_at
    _acc(deltas, max(end, over_at), dims)[A.D_OVER] -= 1


def _created_after_end(state: PartitionState, cid: str, con: list[Any], deltas: Deltas) -> None:
    """Creation arrives after the answer/abandon: place both ends of the spans at once."""
    c, tau, dims, target = con[C_TS], con[C_TAU], con[C_DIMS], con[C_T]
    end = _mins(max(tau, c))
    start = _mins(c)
    if end > start:
        _acc(deltas, start, dims)[A.D_WAITING] += 1
        _acc(deltas, end, dims)[A.D_WAITING] -= 1
    over_at = _mins(c + target)
    if end > over_at:
        _acc(deltas, over_at, dims)[A.D_OVER] += 1
        _acc(deltas, end, dims)[A.D_OVER] -= 1
    if con[C_DUR] is None:
        _closed_stats(_acc(deltas, _mins(tau), con[C_TDIMS]), con[C_KIND], max(0.0, tau - c), target)
    _may_go(state, max(tau, c), CONTACT, cid)


def _complaint_opened(state: PartitionState, ev: ServiceEvent, o: float, dims: Dims, deltas: Deltas, p: Params) -> None:
    cp = state.complaints.get(ev.contact_id)
    target = p.cpl_major if ev.severity == "major" else p.cpl_general
    if cp is None:
        state.complaints[ev.contact_id] = [o, dims, target, None, None]
        _may_go(state, o + target, COMPLAINT, ev.contact_id)
        _acc(deltas, _mins(o + target), dims)[A.CPL_UNTIMELY] += 1  # until answered in time
        return
    if cp[P_O] is not None:
        return  # one complaint per contact is tracked
    cp[P_O], cp[P_DIMS], cp[P_T] = o, dims, target
    r = cp[P_R]
    rt = cp[P_RS] if cp[P_RS] is not None else max(0.0, r - o)
    if rt <= target:
        _acc(deltas, _mins(r), dims)[A.CPL_TIMELY] += 1
    else:
        _acc(deltas, _mins(o + target), dims)[A.CPL_UNTIMELY] += 1


def _complaint_responded(state: PartitionState, ev: ServiceEvent, r: float, deltas: Deltas) -> None:
    cp = state.complaints.get(ev.contact_id)
    if cp is None:
        state.complaints[ev.contact_id] = [None, None, None, r, ev.response_s]
        _may_go(state, r, COMPLAINT, ev.contact_id)
        return
    if cp[P_R] is not None:
        return
    cp[P_R], cp[P_RS] = r, ev.response_s
    _may_go(state, r, COMPLAINT, ev.contact_id)
    if cp[P_O] is None:
        return
    o, target, dims = cp[P_O], cp[P_T], cp[P_DIMS]
    rt = ev.response_s if ev.response_s is not None else max(0.0, r - o)
    if rt <= target:
        _acc(deltas, _mins(o + target), dims)[A.CPL_UNTIMELY] -= 1
        _acc(deltas, _mins(r), dims)[A.CPL_TIMELY] += 1


def _may_go(state: PartitionState, after: float, kind: int, cid: str) -> None:
    bucket = state.done.get(int(after // 60))
    if bucket is None:
        state.done[int(after // 60)] = [(kind, cid)]
    else:
        bucket.append((kind, cid))


def _evict(state: PartitionState, wm: float, p: Params, deltas: Deltas) -> None:
    """Forget what no event within the lateness can still need."""
    done, contacts, complaints = state.done, state.contacts, state.complaints
    passed = int(wm // 60)  # every time in the minutes before this one is < wm
    for minute in [m for m in done if m < passed]:
        for kind, cid in done.pop(minute):
            if kind == CONTACT:
                con = contacts.get(cid)
                if con is not None and con[C_TAU] is not None and con[C_TAU] < wm:
                    del contacts[cid]
            else:
                cp = complaints.get(cid)
                if cp is not None and (cp[P_R] if cp[P_R] is not None else cp[P_O] + cp[P_T]) < wm:
                    del complaints[cid]
    if state.seen_since is None:
        state.seen_since = wm
    elif wm >= state.seen_since + p.horizon:  # the older generation is now beyond the horizon: drop it whole
        state.seen_old, state.seen, state.seen_since = state.seen, set(), wm
    if wm < state.next_sweep:
        return
    state.next_sweep = wm + SWEEP_S
    old = wm - p.max_age
    now = int(wm // 60)  # the watermark's minute is still open everywhere
    for cid in [k for k, con in contacts.items() if con[C_TS] is not None and con[C_TS] < old]:
        con = contacts.pop(cid)  # still waiting after the max age: no longer tracked (docs/streams.md)
        if con[C_TAU] is None:
            acc = _acc(deltas, now, con[C_DIMS])
            acc[A.D_WAITING] -= 1
            acc[A.D_OVER] -= 1
