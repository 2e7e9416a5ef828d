"""An independent batch computation of every KPI from a raw event list.

Written apart from the dataflow (it shares no code with ``streams``): it keeps
the events, and answers "what are the KPIs of window [start, end) at these
dimensions?" straight from the definitions in docs/streams.md, by scanning. Use:

    oracle = Oracle(events, settings)
    problems = oracle.check(snapshot)        # [] when the snapshot is right
    values, ns = oracle.kpis(start, end, team="billing")

Percentiles are exact here (the value at rank floor(q * (n - 1))); the flow's
sketch is within ``PERCENTILE_RTOL`` of them.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqm.config import Settings
from sqm.models import ALL, KpiSnapshot, ServiceEvent

PERCENTILE_RTOL = 0.01
RTOL = 1e-9


@dataclass(frozen=True)
class Fact:
    ts: float
    dims: tuple[str, str, str]
    value: float = 0.0
    flag: int = 0


class _Series:
    """Facts sorted by time, per (team, channel, region), for range scans."""

    def __init__(self, facts: list[Fact]) -> None:
        by_dims: dict[tuple[str, str, str], list[Fact]] = {}
        for f in facts:
            by_dims.setdefault(f.dims, []).append(f)
        self.parts = {}
        for dims, fs in by_dims.items():
            fs.sort(key=lambda f: f.ts)
            prefix = [0.0]
            for f in fs:
                prefix.append(prefix[-1] + f.value)
            self.parts[dims] = (fs, [f.ts for f in fs], prefix)

    def between(self, start: float, end: float, want: tuple[str, str, str]) -> list[Fact]:
        out: list[Fact] = []
        for dims, (fs, times, _) in self.parts.items():
            if _match(dims, want):
                out.extend(fs[bisect_left(times, start):bisect_left(times, end)])
        return out

    def sum_before(self, end: float, want: tuple[str, str, str]) -> float:
        return sum(prefix[bisect_left(times, end)] for dims, (_, times, prefix) in self.parts.items()
                   if _match(dims, want))


class _Spans:
    """Waiting spans (created c, ended tau >= c, target T) per dims, as sorted arrays for counting.

    waiting at e = #{c < e} - #{tau < e};  past target at e = #{c + T < e} - #{max(c + T, tau) < e}.
    """

    def __init__(self, spans: list[tuple[float, float, float, tuple[str, str, str]]]) -> None:
        by_dims: dict[tuple[str, str, str], list[tuple[float, float, float]]] = {}
        for c, tau, tgt, dims in spans:
            by_dims.setdefault(dims, []).append((c, tau, tgt))
        self.parts = {
            dims: (sorted(c for c, _, _ in xs), sorted(tau for _, tau, _ in xs), sorted(c + t for c, _, t in xs),
                   sorted(max(c + t, tau) for c, tau, t in xs))
            for dims, xs in by_dims.items()
        }

    def at(self, e: float, want: tuple[str, str, str]) -> tuple[int, int]:
        waiting = over = 0
        for dims, (cs, taus, cts, maxes) in self.parts.items():
            if _match(dims, want):
                waiting += bisect_left(cs, e) - bisect_left(taus, e)
                over += bisect_left(cts, e) - bisect_left(maxes, e)
        return waiting, over


def _match(dims: tuple[str, str, str], want: tuple[str, str, str]) -> bool:
    return all(w in (ALL, d) for d, w in zip(dims, want, strict=True))


def _minute_start(ts: float) -> float:
    return math.floor(ts / 60) * 60


class Oracle:
    def __init__(self, events: Iterable[ServiceEvent], settings: Settings) -> None:
        targets = settings.answer_targets
        default_target = settings.targets.frt_avg_s
        general = settings.targets.complaint_response_general_s
        major = settings.targets.complaint_response_major_s

        def target(channel: str) -> float:
            return targets.get(channel, default_target)

        unique: dict[str, ServiceEvent] = {}
        for ev in events:
            unique.setdefault(ev.event_id, ev)
        evs = sorted(unique.values(), key=lambda e: e.ts.timestamp())

        created: dict[str, ServiceEvent] = {}
        ended: dict[str, ServiceEvent] = {}
        opened: dict[str, ServiceEvent] = {}
        responded: dict[str, ServiceEvent] = {}
        f: dict[str, list[Fact]] = {k: [] for k in (
            "created", "answered", "abandoned", "frt", "closed", "resolved", "fcr", "aht", "csat", "nps",
            "complaints", "cpl", "open_delta")}
        for ev in evs:
            ts, dims, cid = ev.ts.timestamp(), (ev.team, ev.channel, ev.region), ev.contact_id
            t = ev.type
            if t == "contact.created":
                f["created"].append(Fact(ts, dims))
                f["open_delta"].append(Fact(ts, dims, 1))
                created.setdefault(cid, ev)
            elif t in ("contact.first_response", "contact.abandoned"):
                f["answered" if t == "contact.first_response" else "abandoned"].append(Fact(ts, dims))
                if t == "contact.abandoned":
                    f["open_delta"].append(Fact(ts, dims, -1))
                ended.setdefault(cid, ev)
            elif t == "contact.resolved":
                f["resolved"].append(Fact(ts, dims))
                f["open_delta"].append(Fact(ts, dims, -1))
                if ev.first_contact is not None:
                    f["fcr"].append(Fact(ts, dims, flag=int(ev.first_contact)))
                if ev.handle_s is not None:
                    f["aht"].append(Fact(ts, dims, ev.handle_s))
            elif t == "contact.reopened":
                f["open_delta"].append(Fact(ts, dims, 1))
            elif t == "survey.csat":
                f["csat"].append(Fact(ts, dims, flag=int(ev.score >= 4)))
            elif t == "survey.nps":
                f["nps"].append(Fact(ts, dims, flag=1 if ev.score >= 9 else (-1 if ev.score <= 6 else 0)))
            elif t == "complaint.opened":
                f["complaints"].append(Fact(ts, dims))
                opened.setdefault(cid, ev)
            elif t == "complaint.responded":
                responded.setdefault(cid, ev)

        # the first answer or abandon of each contact: its wait, and the waiting spans
        self.spans: list[tuple[float, float, float, tuple[str, str, str]]] = []  # (created, ended or inf, target, dims)
        for cid, end in ended.items():
            tau = end.ts.timestamp()
            start = created.get(cid)
            c = start.ts.timestamp() if start is not None else None
            if end.type == "contact.first_response":
                dur = end.response_s if end.response_s is not None else end.wait_s
            else:
                dur = end.wait_s
            if dur is None and c is not None:
                dur = max(0.0, tau - c)
            if dur is None:
                continue
            dims = (end.team, end.channel, end.region)
            tgt = target(created[cid].channel) if cid in created else target(end.channel)
            if end.type == "contact.first_response":
                f["frt"].append(Fact(tau, dims, dur, int(dur <= tgt)))
            f["closed"].append(Fact(tau, dims, dur, int(dur > tgt)))
        for cid, start in created.items():
            c = start.ts.timestamp()
            end = ended.get(cid)
            tau = max(end.ts.timestamp(), c) if end is not None else math.inf
            self.spans.append((c, tau, target(start.channel), (start.team, start.channel, start.region)))
        # complaints: in time at the response, or late at the deadline
        for cid, o_ev in opened.items():
            o = o_ev.ts.timestamp()
            deadline = major if o_ev.severity == "major" else general
            dims = (o_ev.team, o_ev.channel, o_ev.region)
            r_ev = responded.get(cid)
            if r_ev is not None:
                r = r_ev.ts.timestamp()
                rt = r_ev.response_s if r_ev.response_s is not None else max(0.0, r - o)
                if rt <= deadline:
                    f["cpl"].append(Fact(r, dims, flag=1))
                    continue
            f["cpl"].append(Fact(o + deadline, dims, flag=0))
        self.series = {k: _Series(v) for k, v in f.items()}
        self.waiting = _Spans(self.spans)

    def kpis(self, start: datetime, end: datetime, team: str = ALL, channel: str = ALL,
             region: str = ALL) -> tuple[dict[str, float | None], dict[str, int]]:
        """The KPIs of window [start, end) over the matching (team, channel, region)."""
        s, e, want = start.timestamp(), end.timestamp(), (team, channel, region)

        def between(name: str) -> list[Fact]:
            return self.series[name].between(s, e, want)

        created = len(between("created"))
        answered = len(between("answered"))
        abandoned = len(between("abandoned"))
        frts = sorted(x.value for x in between("frt"))
        closed = between("closed")
        # the change of "waiting past target" over the window: + those that passed it, - those past it that
        # ended; with the late answers and abandons, each contact counts once, where it passed its target
        passed = self.waiting.at(e, want)[1] - self.waiting.at(s, want)[1]
        resolved = len(between("resolved"))
        fcr = between("fcr")
        aht = between("aht")
        csat = between("csat")
        nps = between("nps")
        complaints = len(between("complaints"))
        cpl = between("cpl")
        backlog = max(0, int(self.series["open_delta"].sum_before(e, want)))

        def ratio(num: float, den: float) -> float | None:
            return num / den if den else None

        def pct(q: float) -> float | None:
            return frts[math.floor(q * (len(frts) - 1))] if frts else None

        n_frt = len(frts)
        late = max(0, sum(x.flag for x in closed) + passed)
        timeout_den = max(late, len(closed) + passed)
        values = {
            "volume": float(created),
            "frt_avg_s": ratio(sum(frts), n_frt),
            "frt_p50_s": pct(0.5),
            "frt_p90_s": pct(0.9),
            "service_level": ratio(sum(x.flag for x in between("frt")), n_frt),
            "timeout_rate": ratio(late, timeout_den),
            "abandon_rate": ratio(abandoned, answered + abandoned),
            "resolution_rate": ratio(resolved, created),
            "fcr_rate": ratio(sum(x.flag for x in fcr), len(fcr)),
            "aht_s": ratio(sum(x.value for x in aht), len(aht)),
            "csat": ratio(sum(x.flag for x in csat), len(csat)),
            "nps": ratio(100.0 * sum(x.flag for x in nps), len(nps)),
            "complaint_rate": ratio(complaints, created),
            "complaint_timely_rate": ratio(sum(x.flag for x in cpl), len(cpl)),
            "backlog": float(backlog),
        }
        ns = {
            "volume": created, "frt_avg_s": n_frt, "frt_p50_s": n_frt, "frt_p90_s": n_frt, "service_level": n_frt,
            "timeout_rate": timeout_den, "abandon_rate": answered + abandoned, "resolution_rate": created,
            "fcr_rate": len(fcr), "aht_s": len(aht), "csat": len(csat), "nps": len(nps), "complaint_rate": created,
            "complaint_timely_rate": len(cpl), "backlog": backlog,
        }
        return values, ns

    def check(self, snap: KpiSnapshot) -> list[str]:
        """What in ``snap`` differs from the oracle (empty when it is right)."""
        values, ns = self.kpis(snap.start, snap.end, snap.team, snap.channel, snap.region)
        problems = []
        for name, want in values.items():
            got = snap.kpis.get(name)
            rtol = PERCENTILE_RTOL if name in ("frt_p50_s", "frt_p90_s") else RTOL
            if (got is None) != (want is None) or (
                    got is not None and want is not None and not math.isclose(got, want, rel_tol=rtol, abs_tol=1e-9)):
                problems.append(f"{snap.series}@{snap.start.isoformat()} {name}: flow {got!r}, oracle {want!r}")
            if snap.n.get(name) != ns[name]:
                problems.append(f"{snap.series}@{snap.start.isoformat()} n[{name}]: flow {snap.n.get(name)}, oracle {ns[name]}")
        return problems


def minute_floor(ts: datetime) -> float:
    return _minute_start(ts.timestamp())
