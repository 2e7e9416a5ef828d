"""Per-contact and per-complaint state of one stream: durations, waiting levels, complaint deadlines.

A ``Contact`` is kept from the first of its events until both its creation and
its first answer or abandon are known and the watermark has passed them (or it has
waited ``contact_max_age_s``); a ``Complaint`` until it is answered or its deadline
has passed. Either end may arrive first: the durations and the minute deltas of
the levels (``Acc.d_waiting``, ``d_over``) are placed when the second one comes.
Records to forget wait in per-minute lists (``PartitionState.done``), not a heap:
appending is cheaper than ordering, and a record going up to a minute later
changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqm.models import ServiceEvent
from streams.accum import Acc, Deltas, Dims, add_frt
from streams.state import Record

if TYPE_CHECKING:
    from streams.partition import Params, PartitionState

ANSWER, ABANDON = 1, 2
"""``Contact.kind``: how its wait ended."""
CONTACT, COMPLAINT = 0, 1
"""What a ``PartitionState.done`` entry is about."""
NO_DIMS: Dims = ("", "", "")
"""The dims of an end not known yet."""


@dataclass(slots=True)
class Contact(Record):
    """One contact: its creation (``ts``, ``dims``, answer ``target``) and how its wait ended."""

    VERSION = 1
    ts: float | None = None
    """When it was created (None until its ``contact.created`` arrives)."""
    dims: Dims = NO_DIMS
    target: float = 0.0
    tau: float | None = None
    """Its first answer or abandon (None while it waits)."""
    kind: int = 0
    """ANSWER or ABANDON (0 while it waits)."""
    tdims: Dims = NO_DIMS
    """The dims of that answer or abandon event."""
    dur: float | None = None
    """Its wait as the source sent it (``response_s``/``wait_s``), if it did."""

    @classmethod
    def upgrade(cls, old: Any, version: int) -> tuple[Any, ...]:
        if version == 0:  # a list [ts, dims, target, tau, kind, tdims, dur] with None for what was not known
            ts, dims, target, tau, kind, tdims, dur = old
            return ts, dims or NO_DIMS, target or 0.0, tau, kind or 0, tdims or NO_DIMS, dur
        return super().upgrade(old, version)


@dataclass(slots=True)
class Complaint(Record):
    """One contact's complaint: when it was opened (its dims and response target) and answered."""

    VERSION = 1
    opened: float | None = None
    dims: Dims = NO_DIMS
    target: float = 0.0
    responded: float | None = None
    response_s: float | None = None

    @classmethod
    def upgrade(cls, old: Any, version: int) -> tuple[Any, ...]:
        if version == 0:  # a list [opened, dims, target, responded, response_s]
            opened, dims, target, responded, response_s = old
            return opened, dims or NO_DIMS, target or 0.0, responded, response_s
        return super().upgrade(old, version)

    def settles_at(self) -> float:
        """When nothing can change it any more: its answer, else its deadline."""
        if self.responded is not None:
            return self.responded
        return (self.opened or 0.0) + self.target


def acc_at(deltas: Deltas, minute: int, dims: Dims) -> Acc:
    key = (minute, dims)
    acc = deltas.get(key)
    if acc is None:
        acc = deltas[key] = Acc()
    return acc


def _mins(ts: float) -> int:
    return int(ts // 60)


def created(state: PartitionState, ev: ServiceEvent, ts: float, dims: Dims, acc: Acc, deltas: Deltas,
            p: Params) -> None:
    """A ``contact.created`` at ``ts`` in ``dims``; ``acc`` is the bucket of that minute."""
    cid = ev.contact_id
    con = state.contacts.get(cid)
    target = p.targets.get(ev.channel, p.default_target)
    if con is None:
        state.contacts[cid] = Contact(ts, dims, target)
        acc.d_waiting += 1
        acc_at(deltas, int((ts + target) // 60), dims).d_over += 1
    elif con.ts is None:
        con.ts, con.dims, con.target = ts, dims, target
        _created_after_end(state, cid, con, ts, deltas)


def _closed_stats(acc: Acc, kind: int, dur: float, target: float) -> None:
    """An answer or abandon with a known wait, in ``acc``: the bucket of its own minute and dims."""
    if kind == ANSWER:
        add_frt(acc, dur, target)
    else:
        acc.closed_n += 1
        if dur > target:
            acc.closed_late += 1


def ended(state: PartitionState, cid: str, tau: float, kind: int, dims: Dims, dur: float | None, acc: Acc,
          deltas: Deltas, p: Params) -> None:
    """The first answer or abandon of a contact, at ``tau`` in ``dims``; ``acc`` is the bucket of that minute."""
    con = state.contacts.get(cid)
    if con is None:
        # answered/abandoned before its creation arrived: remember; stats now if the duration came along
        state.contacts[cid] = Contact(None, NO_DIMS, 0.0, tau, kind, dims, dur)
        may_go(state, tau, CONTACT, cid)  # a creation after tau would be late
        if dur is not None:
            _closed_stats(acc, kind, dur, p.targets.get(dims[1], p.default_target))
        return
    if con.tau is not None:
        return  # only the first answer or abandon ends the wait
    con.tau, con.kind, con.tdims, con.dur = tau, kind, dims, dur
    c = con.ts
    if c is None:
        return
    target = con.target
    _closed_stats(acc, kind, dur if dur is not None else max(0.0, tau - c), target)
    # created first (+1 waiting at c, +1 over at c + target placed); now it ends at tau
    end = _mins(max(tau, c))
    acc_at(deltas, end, con.dims).d_waiting -= 1
    # the over span is [over_at, end): empty when end <= over_at -> cancel the +1 at over_at
    acc_at(deltas, max(end, _mins(c + target)), con.dims).d_over -= 1
    may_go(state, max(tau, c), CONTACT, cid)


def _created_after_end(state: PartitionState, cid: str, con: Contact, c: float, deltas: Deltas) -> None:
    """Creation (at ``c``) arrives after the answer/abandon: place both ends of the spans at once."""
    tau, dims, target = con.tau if con.tau is not None else c, con.dims, con.target
    end = _mins(max(tau, c))
    start = _mins(c)
    if end > start:
        acc_at(deltas, start, dims).d_waiting += 1
        acc_at(deltas, end, dims).d_waiting -= 1
    over_at = _mins(c + target)
    if end > over_at:
        acc_at(deltas, over_at, dims).d_over += 1
        acc_at(deltas, end, dims).d_over -= 1
    if con.dur is None:
        _closed_stats(acc_at(deltas, _mins(tau), con.tdims), con.kind, max(0.0, tau - c), target)
    may_go(state, max(tau, c), CONTACT, cid)


def complaint_opened(state: PartitionState, ev: ServiceEvent, o: float, dims: Dims, deltas: Deltas,
                     p: Params) -> None:
    cid = ev.contact_id
    cp = state.complaints.get(cid)
    target = p.cpl_major if ev.severity == "major" else p.cpl_general
    if cp is None:
        state.complaints[cid] = Complaint(o, dims, target)
        may_go(state, o + target, COMPLAINT, cid)
        acc_at(deltas, _mins(o + target), dims).cpl_untimely += 1  # until answered in time
        return
    if cp.opened is not None:
        return  # one complaint per contact is tracked
    cp.opened, cp.dims, cp.target = o, dims, target
    r = cp.responded if cp.responded is not None else o
    rt = cp.response_s if cp.response_s is not None else max(0.0, r - o)
    if rt <= target:
        acc_at(deltas, _mins(r), dims).cpl_timely += 1
    else:
        acc_at(deltas, _mins(o + target), dims).cpl_untimely += 1


def complaint_responded(state: PartitionState, ev: ServiceEvent, r: float, deltas: Deltas) -> None:
    cid = ev.contact_id
    cp = state.complaints.get(cid)
    if cp is None:
        state.complaints[cid] = Complaint(None, NO_DIMS, 0.0, r, ev.response_s)
        may_go(state, r, COMPLAINT, cid)
        return
    if cp.responded is not None:
        return
    cp.responded, cp.response_s = r, ev.response_s
    may_go(state, r, COMPLAINT, cid)
    o = cp.opened
    if o is None:
        return
    rt = ev.response_s if ev.response_s is not None else max(0.0, r - o)
    if rt <= cp.target:
        acc_at(deltas, _mins(o + cp.target), cp.dims).cpl_untimely -= 1
        acc_at(deltas, _mins(r), cp.dims).cpl_timely += 1


def may_go(state: PartitionState, after: float, kind: int, cid: str) -> None:
    """The record may be forgotten once the watermark passes ``after``."""
    minute = int(after // 60)
    bucket = state.done.get(minute)
    if bucket is None:
        state.done[minute] = [(kind, cid)]
    else:
        bucket.append((kind, cid))


def forget_settled(state: PartitionState, wm: float) -> None:
    """Forget the contacts and complaints that no event within the lateness can still change."""
    done, contacts, complaints = state.done, state.contacts, state.complaints
    passed = int(wm // 60)  # every time in the minutes before this one is < wm
    for minute in [m for m in done if m < passed]:
        for kind, cid in done.pop(minute):
            if kind == CONTACT:
                con = contacts.get(cid)
                if con is not None and con.tau is not None and con.tau < wm:
                    del contacts[cid]
            else:
                cp = complaints.get(cid)
                if cp is not None and cp.settles_at() < wm:
                    del complaints[cid]


def forget_too_old(state: PartitionState, wm: float, max_age: float, deltas: Deltas) -> None:
    """Stop tracking contacts still waiting after ``max_age``: they no longer count as waiting (docs/streams.md)."""
    old = wm - max_age
    now = int(wm // 60)  # the watermark's minute is still open everywhere
    contacts = state.contacts
    for cid in [k for k, con in contacts.items() if con.ts is not None and con.ts < old]:
        con = contacts.pop(cid)
        if con.tau is None:
            acc = acc_at(deltas, now, con.dims)
            acc.d_waiting -= 1
            acc.d_over -= 1
