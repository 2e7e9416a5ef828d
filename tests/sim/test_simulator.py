"""The contact-center simulator: seeded, valid, ordered, and its rates match its parameters."""

from __future__ import annotations

import io
import math
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from sim.simulator import Incident, IncidentError, Simulator, paced, write_ndjson, write_stream
from sqm.clock import ManualClock
from sqm.config import Settings
from sqm.errors import ConfigError
from sqm.keys import events_stream
from sqm.models import ServiceEvent, decode_event, decode_events, encode

CST = timezone(timedelta(hours=8))
MONDAY = datetime(2026, 3, 2, 0, 0, tzinfo=CST)  # a Monday


@dataclass
class Contact:
    team: str
    channel: str
    region: str
    created: float
    types: list[str] = field(default_factory=list)
    ts: list[float] = field(default_factory=list)
    events: list[ServiceEvent] = field(default_factory=list)

    def first(self, type_: str) -> ServiceEvent | None:
        return next((e for e in self.events if e.type == type_), None)

    def wait(self) -> float | None:
        """Seconds until the first response or the abandon."""
        end = self.first("contact.first_response") or self.first("contact.abandoned")
        return None if end is None else end.ts.timestamp() - self.created


def by_contact(events: list[ServiceEvent]) -> dict[str, Contact]:
    out: dict[str, Contact] = {}
    for ev in events:
        c = out.get(ev.contact_id)
        if c is None:
            assert ev.type == "contact.created", f"{ev.contact_id}: first event is {ev.type}"
            c = out[ev.contact_id] = Contact(ev.team, ev.channel, ev.region, ev.ts.timestamp())
        c.types.append(ev.type)
        c.ts.append(ev.ts.timestamp())
        c.events.append(ev)
    return out


def within(observed: float, expected: float, n: int, sigmas: float = 4.5) -> bool:
    """A binomial share within `sigmas` standard errors (plus a hair for rounding)."""
    se = math.sqrt(max(expected * (1 - expected), 1e-9) / max(n, 1))
    return abs(observed - expected) <= sigmas * se + 1e-3


@pytest.fixture(scope="module")
def settings() -> Settings:
    return Settings()


@pytest.fixture(scope="module")
def week(settings: Settings) -> tuple[Simulator, list[ServiceEvent]]:
    """Two weekdays and a Saturday, with doubled volumes for tighter estimates."""
    vols = {"billing": 720.0, "tech": 480.0, "sales": 360.0, "vip": 240.0}
    sim = Simulator(settings, seed=11, start=MONDAY + timedelta(days=4), volumes=vols)
    return sim, list(sim.events(MONDAY + timedelta(days=6)))


# --- determinism, validity, order -------------------------------------------------------------


def test_same_seed_same_events_and_other_seed_differs(settings: Settings) -> None:
    until = MONDAY + timedelta(hours=12)
    a = [encode(e) for e in Simulator(settings, seed=3, start=MONDAY).events(until)]
    b = [encode(e) for e in Simulator(settings, seed=3, start=MONDAY).events(until)]
    c = [encode(e) for e in Simulator(settings, seed=4, start=MONDAY).events(until)]
    assert len(a) > 5000
    assert a == b
    assert a != c


def test_resumed_calls_continue_the_same_stream(settings: Settings) -> None:
    whole = [encode(e) for e in Simulator(settings, seed=5, start=MONDAY).events(MONDAY + timedelta(hours=5))]
    sim = Simulator(settings, seed=5, start=MONDAY)
    parts: list[bytes] = []
    for minutes in (7, 61, 62, 200, 300):
        parts.extend(encode(e) for e in sim.events(MONDAY + timedelta(minutes=minutes)))
    assert parts == whole


def test_every_event_validates_and_is_time_ordered(week: tuple[Simulator, list[ServiceEvent]]) -> None:
    _, events = week
    assert {e.type for e in events} >= {
        "contact.created", "contact.first_response", "contact.resolved", "contact.reopened", "contact.abandoned",
        "contact.transferred", "survey.csat", "survey.nps", "complaint.opened", "complaint.responded",
        "complaint.resolved", "feedback.received", "feedback.closed",
    }
    raw = b"[" + b",".join(encode(e) for e in events) + b"]"
    assert decode_events(raw) == events  # strict validation of every event
    ts = [e.ts for e in events]
    assert all(a <= b for a, b in zip(ts, ts[1:], strict=False))
    assert len({e.event_id for e in events}) == len(events)
    assert all(e.ts.tzinfo is not None for e in events)


def test_each_contact_follows_its_life_cycle(week: tuple[Simulator, list[ServiceEvent]]) -> None:
    _, events = week
    contacts = by_contact(events)
    assert len(contacts) > 50_000
    for cid, c in contacts.items():
        assert c.ts == sorted(c.ts), cid
        t = c.types
        assert ("contact.first_response" in t) + ("contact.abandoned" in t) <= 1, (cid, t)
        if "contact.resolved" in t:
            assert t.index("contact.first_response") < t.index("contact.resolved"), (cid, t)
        if "contact.reopened" in t:
            assert t.count("contact.resolved") == 2 or t[-1] == "contact.reopened" or "complaint.opened" in t, (cid, t)
        if "survey.csat" in t:
            assert t.index("contact.resolved") < t.index("survey.csat"), (cid, t)
        if "complaint.responded" in t:
            assert t.index("complaint.opened") < t.index("complaint.responded"), (cid, t)
        fr = c.first("contact.first_response")
        if fr is not None:
            assert (fr.by == "agent") == (fr.agent_id is not None)
            assert c.team != "x"


# --- rates match the parameters ---------------------------------------------------------------


def test_timeout_and_abandon_shares_match_parameters_per_team_and_channel(
    settings: Settings, week: tuple[Simulator, list[ServiceEvent]]
) -> None:
    sim, events = week
    contacts = by_contact(events)
    cells: dict[tuple[str, str], list[Contact]] = defaultdict(list)
    cutoff = events[-1].ts.timestamp() - 6 * 3600  # contacts with a settled outcome
    for c in contacts.values():
        if c.created < cutoff:
            cells[(c.team, c.channel)].append(c)
    at = MONDAY + timedelta(days=4, hours=10)
    checked = 0
    for (team, channel), group in cells.items():
        target = settings.answer_target_s(channel)
        waits = [c.wait() for c in group]
        # no answer yet after more than 6 h: still waiting, so late (an e-mail's long tail)
        assert sum(w is None for w in waits) < 0.01 * len(group)
        late = sum(w is None or w > target for w in waits) / len(group)
        abandoned = sum("contact.abandoned" in c.types for c in group) / len(group)
        exp_late = sim.true_value("timeout_rate", at, team=team, channel=channel)
        exp_ab = sim.true_value("abandon_rate", at, team=team, channel=channel)
        assert within(late, exp_late, len(group)), (team, channel, late, exp_late, len(group))
        assert within(abandoned, exp_ab, len(group)), (team, channel, abandoned, exp_ab, len(group))
        checked += 1
    assert checked == len(settings.teams) * len(settings.channels)
    # the parameter differs per team: vip's timeouts are half the others'
    assert sim.true_value("timeout_rate", at, team="vip", channel="chat") == pytest.approx(0.05)
    assert sim.true_value("timeout_rate", at, team="billing", channel="chat") == pytest.approx(0.10)


def test_fcr_csat_nps_complaint_rates_match_parameters(week: tuple[Simulator, list[ServiceEvent]]) -> None:
    sim, events = week
    at = MONDAY + timedelta(days=4, hours=10)
    # contacts of the first 30 hours: their later resolutions and surveys are in the data too
    cutoff = (MONDAY + timedelta(days=4, hours=30)).timestamp()
    settled = {cid for cid, c in by_contact(events).items() if c.created < cutoff}
    for team in ("billing", "tech"):
        evs = [e for e in events if e.team == team and e.contact_id in settled]
        resolved = [e for e in evs if e.type == "contact.resolved"]
        fcr = sum(bool(e.first_contact) for e in resolved) / len(resolved)
        assert within(fcr, sim.true_value("fcr_rate", at, team=team), len(resolved)), (team, fcr)
        csat = [e.score for e in evs if e.type == "survey.csat"]
        good = sum(s is not None and s >= 4 for s in csat) / len(csat)
        assert within(good, sim.true_value("csat", at, team=team), len(csat)), (team, good)
        created = sum(e.type == "contact.created" for e in evs)
        complaints = [e for e in evs if e.type == "complaint.opened"]
        assert within(len(complaints) / created, sim.true_value("complaint_rate", at, team=team), created), team
        majors = sum(e.severity == "major" for e in complaints) / len(complaints)
        assert within(majors, 0.15, len(complaints))
    assert sim.true_value("fcr_rate", at, team="tech") < sim.true_value("fcr_rate", at, team="billing")
    nps = [e.score for e in events if e.type == "survey.nps" and e.score is not None]
    measured = 100 * (sum(s >= 9 for s in nps) - sum(s <= 6 for s in nps)) / len(nps)
    assert abs(measured - sim.true_value("nps", at)) < 4


def test_complaints_mostly_answered_within_their_grade_target(
    settings: Settings, week: tuple[Simulator, list[ServiceEvent]]
) -> None:
    _, events = week
    opened: dict[str, ServiceEvent] = {}
    timely: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for e in events:
        if e.type == "complaint.opened":
            opened[e.contact_id] = e
        elif e.type == "complaint.responded":
            o = opened[e.contact_id]
            assert o.severity is not None
            limit = (settings.targets.complaint_response_major_s if o.severity == "major"
                     else settings.targets.complaint_response_general_s)
            total[o.severity] += 1
            timely[o.severity] += (e.ts - o.ts).total_seconds() <= limit
    share = (timely["general"] + timely["major"]) / (total["general"] + total["major"])
    assert within(share, 0.99, total["general"] + total["major"])
    assert total["major"] > 20


def test_daily_and_weekly_rhythm(week: tuple[Simulator, list[ServiceEvent]]) -> None:
    sim, events = week
    per_hour: Counter[tuple[int, int]] = Counter()
    for e in events:
        if e.type == "contact.created":
            local = e.ts.astimezone(CST)
            per_hour[(local.day, local.hour)] += 1
    friday, saturday = 6, 7
    assert per_hour[(friday, 3)] * 5 < per_hour[(friday, 10)]
    assert per_hour[(friday, 3)] * 5 < per_hour[(friday, 15)]
    assert per_hour[(friday, 12)] < per_hour[(friday, 10)]  # lunch dip
    fri = sum(v for (d, _), v in per_hour.items() if d == friday)
    sat = sum(v for (d, _), v in per_hour.items() if d == saturday)
    assert 0.55 < sat / fri < 0.8
    # the day's volume is the integral of the configured rate x the rhythm (noise included)
    day = MONDAY + timedelta(days=4)
    expected = sum((720 + 480 + 360 + 240) / 60 * sim.rhythm(day + timedelta(minutes=m, seconds=30)) for m in range(1440))
    assert fri == pytest.approx(expected, rel=0.02)
    assert expected == pytest.approx((720 + 480 + 360 + 240) * 24 * 0.97, rel=0.2)  # x the weekday factor, +- noise


def test_volume_noise_is_seeded_and_only_on_volume(settings: Settings) -> None:
    at = [MONDAY + timedelta(hours=h, minutes=17) for h in range(0, 72, 5)]
    quiet = Simulator(settings, seed=1, start=MONDAY, volume_noise=0)
    a = Simulator(settings, seed=1, start=MONDAY)
    b = Simulator(settings, seed=2, start=MONDAY)
    ratios = [a.rhythm(t) / quiet.rhythm(t) for t in at]
    assert ratios == [Simulator(settings, seed=1, start=MONDAY + timedelta(days=1)).rhythm(t) / quiet.rhythm(t) for t in at]
    assert 0.01 < statistics.pstdev(ratios) < 0.2
    assert ratios != [b.rhythm(t) / quiet.rhythm(t) for t in at]
    assert a.true_value("timeout_rate", at[3], team="billing") == pytest.approx(quiet.true_value("timeout_rate", at[3], team="billing"))
    with pytest.raises(ValueError, match="volume_noise"):
        Simulator(settings, seed=1, start=MONDAY, volume_noise=2)


def test_holiday_lowers_volume(settings: Settings) -> None:
    tue = MONDAY + timedelta(days=1)
    normal = Simulator(settings, seed=1, start=tue)
    holiday = Simulator(settings, seed=1, start=tue, holidays={tue.date()})
    n = sum(e.type == "contact.created" for e in normal.events(tue + timedelta(hours=12)))
    h = sum(e.type == "contact.created" for e in holiday.events(tue + timedelta(hours=12)))
    assert h / n == pytest.approx(0.45, rel=0.1)


# --- incidents --------------------------------------------------------------------------------


def _late_share(contacts: list[Contact], settings: Settings) -> float:
    late = sum((c.wait() or 0.0) > settings.answer_target_s(c.channel) for c in contacts)
    return late / len(contacts)


def test_timeout_incident_raises_true_rate_by_factor_in_window_only(settings: Settings) -> None:
    start = MONDAY + timedelta(hours=9, minutes=15)
    inc = Incident.parse("team=billing kpi=timeout_rate change=+40% at=10:00 for=45m")
    vols = {"billing": 9000.0, "tech": 3000.0, "sales": 0.0, "vip": 0.0}
    sim = Simulator(settings, seed=21, start=start, volumes=vols, incidents=[inc])
    (resolved,) = sim.incidents
    assert resolved.start == datetime(2026, 3, 2, 10, 0, tzinfo=CST)
    assert resolved.end == datetime(2026, 3, 2, 10, 45, tzinfo=CST)
    inside = datetime(2026, 3, 2, 10, 20, tzinfo=CST)
    before, after = resolved.start - timedelta(seconds=1), resolved.end
    for channel in ("phone", "chat"):
        base = sim.true_value("timeout_rate", before, team="billing", channel=channel)
        assert sim.true_value("timeout_rate", inside, team="billing", channel=channel) == pytest.approx(1.4 * base)
        assert sim.true_value("timeout_rate", after, team="billing", channel=channel) == pytest.approx(base)
        assert sim.true_value("timeout_rate", inside, team="tech", channel=channel) == pytest.approx(
            sim.true_value("timeout_rate", before, team="tech", channel=channel))
    contacts = by_contact(list(sim.events(start + timedelta(hours=2, minutes=15))))
    groups: dict[tuple[str, str], list[Contact]] = defaultdict(list)
    t0, t1 = resolved.start.timestamp(), resolved.end.timestamp()
    for c in contacts.values():
        if c.channel not in ("phone", "chat") or c.created > t1 + 3600:
            continue
        when = "in" if t0 <= c.created < t1 else ("out" if c.created < t0 - 600 or c.created > t1 + 600 else "edge")
        groups[(c.team, when)].append(c)
    for team in ("billing", "tech"):
        for when in ("in", "out"):
            g = groups[(team, when)]
            t = datetime.fromtimestamp(sum(c.created for c in g) / len(g), CST)
            probe = inside if when == "in" else before
            expected = sum(sim.true_value("timeout_rate", probe, team=team, channel=ch) * n for ch, n in
                           Counter(c.channel for c in g).items()) / len(g)
            assert within(_late_share(g, settings), expected, len(g)), (team, when, t)
    ratio = _late_share(groups[("billing", "in")], settings) / _late_share(groups[("billing", "out")], settings)
    assert 1.25 < ratio < 1.55  # 1.4 +- ~3 standard errors (the per-group checks above are the precise ones)
    tech = _late_share(groups[("tech", "in")], settings) / _late_share(groups[("tech", "out")], settings)
    assert 0.85 < tech < 1.15


def test_frt_and_volume_incidents(settings: Settings) -> None:
    start = MONDAY + timedelta(hours=9)
    incs = [Incident.parse("kpi=frt change=x2 at=+1h for=1h channel=phone"),
            Incident.parse("kpi=volume change=+50% at=+1h for=1h team=sales")]
    vols = {"billing": 3000.0, "sales": 3000.0, "tech": 0.0, "vip": 0.0}
    sim = Simulator(settings, seed=8, start=start, volumes=vols, incidents=incs)
    contacts = by_contact(list(sim.events(start + timedelta(hours=3))))
    inside = start + timedelta(hours=1, minutes=30)
    t0, t1 = (start + timedelta(hours=1)).timestamp(), (start + timedelta(hours=2)).timestamp()

    def agent_waits(team: str, lo: float, hi: float) -> list[float]:
        out = []
        for c in contacts.values():
            fr = c.first("contact.first_response")
            if c.team == team and c.channel == "phone" and lo <= c.created < hi and fr is not None:
                out.append(fr.ts.timestamp() - c.created)
        return out

    w_in, w_out = agent_waits("billing", t0, t1), agent_waits("billing", t1 + 600, math.inf)
    assert 1.7 < (sum(w_in) / len(w_in)) / (sum(w_out) / len(w_out)) < 2.3
    phone_in = [c for c in contacts.values() if c.team == "billing" and c.channel == "phone" and t0 <= c.created < t1]
    exp = sim.true_value("timeout_rate", inside, team="billing", channel="phone")
    assert exp > 0.3
    assert within(_late_share(phone_in, settings), exp, len(phone_in))
    n_in = sum(c.team == "sales" and t0 <= c.created < t1 for c in contacts.values())
    n_before = sum(c.team == "sales" and c.created < t0 for c in contacts.values())
    rhythm_ratio = sim.rhythm(inside) / sim.rhythm(start + timedelta(minutes=30))
    assert n_in / n_before == pytest.approx(1.5 * rhythm_ratio, rel=0.08)
    assert sim.true_value("volume", inside, team="sales") == pytest.approx(1.5 * 3000 * sim.rhythm(inside))
    # the unplanned surge slows the sales agents (surge_elasticity=1: waits x1.5), so more time out
    assert sim.params(inside, "sales", "chat").frt == pytest.approx(1.5)
    assert sim.params(inside, "billing", "chat").frt == 1.0
    surged = sim.true_value("timeout_rate", inside, team="sales", channel="chat")
    assert surged > 1.5 * sim.true_value("timeout_rate", start, team="sales", channel="chat")
    chat_in = [c for c in contacts.values() if c.team == "sales" and c.channel == "chat" and t0 <= c.created < t1]
    assert within(_late_share(chat_in, settings), surged, len(chat_in))
    # long waits cost satisfaction: the slow phone hour scores lower CSAT, as the truth says
    csat_true = sim.true_value("csat", inside, team="billing", channel="phone")
    assert csat_true < sim.true_value("csat", start, team="billing", channel="phone") - 0.05
    scores = [e.score for c in phone_in for e in c.events if e.type == "survey.csat"]
    good = sum(s is not None and s >= 4 for s in scores) / len(scores)
    assert within(good, csat_true, len(scores))
    calm = Simulator(settings, seed=8, start=start, volumes=vols, incidents=incs, surge_elasticity=0)
    assert calm.params(inside, "sales", "chat").frt == 1.0


# --- the incident parser ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "check"),
    [
        ("team=billing kpi=timeout_rate change=+40% at=10:00 for=45m",
         dict(team="billing", kpi="timeout_rate", factor=1.4, at=time(10, 0), duration=timedelta(minutes=45))),
        ("kpi=frt_avg_s change=x1.5 at=+2h for=1h30m channel=chat region=east",
         dict(kpi="frt", factor=1.5, at=timedelta(hours=2), duration=timedelta(minutes=90), channel="chat", region="east")),
        ("kpi=csat change=-15% at=2026-03-02T14:00+08:00 for=30m",
         dict(kpi="csat", factor=0.85, at=datetime(2026, 3, 2, 14, tzinfo=CST))),
        ("kpi=volume change=2x at=09:30:15", dict(kpi="volume", factor=2.0, at=time(9, 30, 15), duration=timedelta(minutes=30))),
        ("KPI=abandon_rate CHANGE=50% AT=+90m FOR=2h", dict(kpi="abandon_rate", factor=1.5, at=timedelta(minutes=90))),
        ("kpi=complaint_rate change=+100% at=10:00 duration=1d", dict(kpi="complaint_rate", factor=2.0, duration=timedelta(days=1))),
        ("kpi=fcr_rate change=-10% at=23:59 for=90s", dict(kpi="fcr_rate", factor=0.9, duration=timedelta(seconds=90))),
    ],
)
def test_incident_parser_accepts(text: str, check: dict[str, object]) -> None:
    inc = Incident.parse(text)
    for name, value in check.items():
        assert getattr(inc, name) == pytest.approx(value) if isinstance(value, float) else getattr(inc, name) == value
    assert Incident.parse(str(inc.resolve(MONDAY))) == inc.resolve(MONDAY)  # str() is parseable


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("team=billing kpi=happiness change=+40% at=10:00", "kpi=happiness"),
        ("kpi=timeout_rate change=lots at=10:00", "bad change 'lots'"),
        ("kpi=timeout_rate change=-140% at=10:00", "bad change '-140%'"),
        ("kpi=timeout_rate change=+40% at=25:00", "at=25:00"),
        ("kpi=timeout_rate change=+40% at=tomorrow", "at=tomorrow"),
        ("kpi=timeout_rate change=+40% at=+soon", "at=+soon"),
        ("kpi=timeout_rate change=+40% at=10:00 for=45", "bad duration '45'"),
        ("kpi=timeout_rate change=+40% at=10:00 for=0m", "for=0m"),
        ("kpi=timeout_rate change=+40% at=10:00 colour=red", "unknown key 'colour'"),
        ("kpi=timeout_rate change=+40%", "missing at="),
        ("kpi=timeout_rate change=+40% at=10:00 billing", "'billing' is not key=value"),
        ("kpi=timeout_rate kpi=csat change=+40% at=10:00", "kpi given twice"),
    ],
)
def test_incident_parser_rejects_naming_the_bad_part(text: str, named: str) -> None:
    with pytest.raises(IncidentError) as info:
        Incident.parse(text)
    assert named in str(info.value)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, ConfigError)


def test_incident_time_of_day_resolution(settings: Settings) -> None:
    inc = Incident.parse("kpi=volume change=+10% at=10:00 for=1h")
    # before 10:00 → the same day; after → the next day; a given day wins; tz from the simulator
    assert inc.resolve(datetime(2026, 3, 2, 9, tzinfo=CST)).start == datetime(2026, 3, 2, 10, tzinfo=CST)
    assert inc.resolve(datetime(2026, 3, 2, 11, tzinfo=CST)).start == datetime(2026, 3, 3, 10, tzinfo=CST)
    fixed = Incident.parse("kpi=volume change=+10% at=10:00", day=date(2026, 3, 5))
    assert fixed.resolve(datetime(2026, 3, 2, 11, tzinfo=CST)).start == datetime(2026, 3, 5, 10, tzinfo=CST)
    sh = ZoneInfo("Asia/Shanghai")
    sim = Simulator(settings, seed=1, start=datetime(2026, 3, 2, 1, tzinfo=UTC), tz=sh, incidents=[inc])
    assert sim.incidents[0].start == datetime(2026, 3, 2, 10, tzinfo=sh)
    with pytest.raises(IncidentError, match="unknown team 'biling'"):
        Simulator(settings, seed=1, start=MONDAY, incidents=[Incident.parse("team=biling kpi=csat change=-5% at=+1h")])


def test_bad_simulator_arguments_are_named(settings: Settings) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Simulator(settings, seed=1, start=datetime(2026, 3, 2))  # noqa: DTZ001
    with pytest.raises(ValueError, match="volumes: unknown team 'nope'"):
        Simulator(settings, seed=1, start=MONDAY, volumes={"nope": 3.0})
    with pytest.raises(ValueError, match="unknown parameter 'speed'"):
        Simulator(settings, seed=1, start=MONDAY, rates={"chat": {"speed": 3.0}})
    with pytest.raises(ValueError, match="out of range"):
        Simulator(settings, seed=1, start=MONDAY, rates={"billing/chat": {"timeout_rate": 1.5}})
    with pytest.raises(ValueError, match="until must be timezone-aware"):
        next(Simulator(settings, seed=1, start=MONDAY).events(datetime(2026, 3, 3)))  # noqa: DTZ001
    idle = Simulator(settings, seed=1, start=MONDAY, volumes={"vip": 0.0},
                     incidents=[Incident.parse("team=vip kpi=csat change=-10% at=+1h")])
    assert idle.ground_truth()[0]["before"] is None  # no arrivals, no truth (and no crash)


def test_rate_overrides_apply(settings: Settings) -> None:
    sim = Simulator(settings, seed=2, start=MONDAY + timedelta(hours=9), volumes={"billing": 8000.0},
                    rates={"chat": {"timeout_rate": 0.3}, "billing/chat": {"abandon_rate": 0.0}})
    at = MONDAY + timedelta(hours=10)
    assert sim.true_value("timeout_rate", at, team="billing", channel="chat") == pytest.approx(0.3)
    assert sim.true_value("abandon_rate", at, team="billing", channel="chat") == 0.0
    contacts = [c for c in by_contact(list(sim.events(MONDAY + timedelta(hours=11)))).values()
                if c.team == "billing" and c.channel == "chat" and c.created < (MONDAY + timedelta(hours=10, minutes=30)).timestamp()]
    assert within(_late_share(contacts, settings), 0.3, len(contacts))
    assert not any("contact.abandoned" in c.types for c in contacts)


# --- pacing and writers -----------------------------------------------------------------------


def test_paced_releases_events_as_wall_time_advances(settings: Settings) -> None:
    sim = Simulator(settings, seed=9, start=MONDAY + timedelta(hours=10))
    events = list(sim.events(MONDAY + timedelta(hours=10, minutes=10)))
    clock = ManualClock(datetime(2026, 1, 1, tzinfo=UTC))
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        clock.advance(seconds=s)

    origin = MONDAY + timedelta(hours=10)
    out: list[ServiceEvent] = []
    for batch in paced(iter(events), speed=60, clock=clock, sleep=sleep, origin=origin, heartbeat_s=None):
        assert batch
        # everything in a batch is due by now, and nothing is more than a tick late
        due = [(e.ts - origin).total_seconds() / 60 for e in batch]
        assert max(due) <= clock.monotonic() + 1e-5  # the manual clock keeps microseconds
        assert min(due) >= clock.monotonic() - 0.05 - 1e-9
        out.extend(batch)
    assert out == events
    assert 9.5 < sum(slept) <= 10.05  # ten simulated minutes at 60x take ten wall seconds (+ at most a tick)
    fast = list(paced(iter(events), speed=math.inf, max_batch=100))
    assert [len(b) for b in fast[:-1]] == [100] * (len(fast) - 1)
    assert [e for b in fast for e in b] == events
    with pytest.raises(ValueError, match="speed"):
        next(paced(iter(events), speed=0))


def test_paced_heartbeats_while_the_next_event_is_far(settings: Settings) -> None:
    """At night and slow speed the next event may be minutes of wall time away: empty batches let callers stop."""
    sim = Simulator(settings, seed=9, start=MONDAY + timedelta(hours=3), volumes={"vip": 6.0, "billing": 0.0,
                                                                                  "tech": 0.0, "sales": 0.0})
    events = list(sim.events(MONDAY + timedelta(hours=5)))
    clock = ManualClock(datetime(2026, 1, 1, tzinfo=UTC))
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        clock.advance(seconds=s)

    out = list(paced(iter(events), speed=2, clock=clock, sleep=sleep, heartbeat_s=1.0, origin=MONDAY + timedelta(hours=3)))
    assert [e for b in out for e in b] == events
    empties = sum(not b for b in out)
    assert empties > 100
    assert max(slept) <= 1.0
    last_due = (events[-1].ts - (MONDAY + timedelta(hours=3))).total_seconds() / 2  # at 2x
    assert last_due - 1e-3 <= sum(slept) <= last_due + 0.05


def test_write_ndjson_round_trip(settings: Settings, tmp_path) -> None:
    sim = Simulator(settings, seed=4, start=MONDAY + timedelta(hours=9))
    events = list(sim.events(MONDAY + timedelta(hours=10)))
    path = tmp_path / "events.ndjson"
    assert write_ndjson(events, path, batch=777) == len(events)
    lines = path.read_bytes().splitlines()
    assert [decode_event(line) for line in lines] == events
    buf = io.BytesIO()
    batches = [events[:10], events[10:]]
    assert write_ndjson(batches, buf) == len(events)
    assert buf.getvalue() == path.read_bytes()


def test_write_stream_appends_to_partitions(settings: Settings, redis) -> None:
    sim = Simulator(settings, seed=4, start=MONDAY + timedelta(hours=9))
    events = list(sim.events(MONDAY + timedelta(hours=9, minutes=30)))
    assert write_stream(redis, events, 4, batch=500) == len(events)
    back: list[ServiceEvent] = []
    for p in range(4):
        for _id, fields in redis.xrange(events_stream(p)):
            back.extend(decode_events(fields[b"e"]))
    assert sorted(back, key=lambda e: e.event_id) == sorted(events, key=lambda e: e.event_id)
    # each team's events keep their order within its partition
    for team in ("billing", "vip"):
        mine = [e for e in back if e.team == team]
        assert mine == [e for e in events if e.team == team]


def test_timestamps_carry_the_local_offset_across_a_dst_change(settings: Settings) -> None:
    berlin = ZoneInfo("Europe/Berlin")
    start = datetime(2026, 3, 29, 0, 30, tzinfo=berlin)  # clocks go 02:00 → 03:00 (+01:00 → +02:00) mid-chunk
    events = list(Simulator(settings, seed=6, start=start, volumes={"billing": 3000.0}).events(start + timedelta(hours=5)))
    offsets = Counter(e.ts.utcoffset() for e in events)
    assert set(offsets) == {timedelta(hours=1), timedelta(hours=2)}
    for e in events:
        assert e.ts.utcoffset() == e.ts.astimezone(berlin).utcoffset()
    instants = [e.ts.timestamp() for e in events]
    assert instants == sorted(instants)
    assert encode(events[0]).count(b'"ts":"2026-03-29T00:') == 1


def test_durations_option_sends_waits_that_match_the_timestamps(settings: Settings) -> None:
    start = MONDAY + timedelta(hours=10)
    sim = Simulator(settings, seed=12, start=start, durations=True)
    contacts = by_contact(list(sim.events(start + timedelta(hours=1))))
    checked = 0
    for c in contacts.values():
        end = c.first("contact.first_response") or c.first("contact.abandoned")
        if end is not None:
            assert end.wait_s == pytest.approx(end.ts.timestamp() - c.created, abs=2e-3)
            checked += 1
        resp = c.first("complaint.responded")
        if resp is not None:
            opened = c.first("complaint.opened")
            assert opened is not None and resp.response_s is not None
            assert resp.response_s == pytest.approx((resp.ts - opened.ts).total_seconds(), abs=2e-3)
    assert checked > 500
    plain = Simulator(settings, seed=12, start=start)
    assert all(e.wait_s is None and e.response_s is None for e in plain.events(start + timedelta(minutes=30)))


def test_ids_depend_on_seed_and_start(settings: Settings) -> None:
    def first_id(seed: int, start: datetime, **kw: str) -> str:
        return next(iter(Simulator(settings, seed=seed, start=start, **kw).events())).contact_id

    assert first_id(1, MONDAY) == first_id(1, MONDAY)
    assert first_id(1, MONDAY) != first_id(2, MONDAY)
    assert first_id(1, MONDAY) != first_id(1, MONDAY + timedelta(hours=1))
    assert first_id(1, MONDAY, id_prefix="demo").startswith("demo-")


def test_mean_first_response_matches_true_value(week: tuple[Simulator, list[ServiceEvent]]) -> None:
    sim, events = week
    at = MONDAY + timedelta(days=4, hours=10)
    waits: dict[str, list[float]] = defaultdict(list)
    for c in by_contact(events).values():
        fr = c.first("contact.first_response")
        if fr is not None and c.team == "billing":
            waits[c.channel].append(fr.ts.timestamp() - c.created)
    for channel, w in waits.items():
        expected = sim.true_value("frt_avg_s", at, team="billing", channel=channel)
        assert sum(w) / len(w) == pytest.approx(expected, rel=0.06), channel
    overall = [x for w in waits.values() for x in w]
    assert sum(overall) / len(overall) == pytest.approx(sim.true_value("frt_avg_s", at, team="billing"), rel=0.06)


def test_ground_truth_and_description(settings: Settings) -> None:
    start = MONDAY + timedelta(hours=8)
    sim = Simulator(settings, seed=1, start=start, incidents=[
        Incident.parse("team=billing kpi=timeout_rate change=+40% at=10:00 for=45m"),
        Incident.parse("channel=chat kpi=frt change=x2 at=+3h"),
    ])
    truth = sim.ground_truth()
    assert [t["kpi"] for t in truth] == ["timeout_rate", "frt"]
    assert truth[0]["start"] == "2026-03-02T10:00:00+08:00" and truth[0]["end"] == "2026-03-02T10:45:00+08:00"
    assert truth[0]["during"] == pytest.approx(1.4 * truth[0]["before"])
    assert truth[1]["true_kpi"] == "frt_avg_s" and truth[1]["during"] > 1.5 * truth[1]["before"]
    text = sim.describe()
    assert "billing 360" in text and "chat 30 s" in text and "kpi=timeout_rate change=+40%" in text


def test_a_call_abandoned_part_way_loses_nothing(settings: Settings) -> None:
    start = MONDAY + timedelta(hours=9)
    whole = [e.event_id for e in Simulator(settings, seed=3, start=start).events(start + timedelta(hours=2))]
    sim = Simulator(settings, seed=3, start=start)
    got: list[str] = []
    for n in (5, 1, 700):
        it = sim.events(start + timedelta(hours=2))
        got.extend(e.event_id for _, e in zip(range(n), it, strict=False))
        it.close()
    got.extend(e.event_id for e in sim.events(start + timedelta(hours=2)))
    assert got == whole


def test_unresolved_contacts_are_resolved_later_and_fcr_truth_follows_a_resolution_incident(settings: Settings) -> None:
    start = MONDAY + timedelta(hours=9)
    incs = [Incident.parse("team=billing kpi=resolution_rate change=-50% at=+1h for=1h"),
            Incident.parse("kpi=volume change=-100% at=+2h for=2d")]  # no contacts after 11:00: a light run
    vols = {"billing": 2000.0, "tech": 0.0, "sales": 0.0, "vip": 0.0}
    sim = Simulator(settings, seed=17, start=start, volumes=vols, incidents=incs)
    contacts = by_contact(list(sim.events(start + timedelta(days=2))))
    t0, t1 = (start + timedelta(hours=1)).timestamp(), (start + timedelta(hours=2)).timestamp()

    def slow_share(group: list[Contact]) -> float:
        """Share of answered contacts resolved more than 2 h after their first response."""
        answered = [c for c in group if "contact.first_response" in c.types]
        assert sum("contact.resolved" in c.types for c in answered) / len(answered) > 0.99  # all, some later
        slow = 0
        for c in answered:
            fr, res = c.first("contact.first_response"), c.first("contact.resolved")
            slow += fr is not None and res is not None and (res.ts - fr.ts).total_seconds() > 7200
        return slow / len(answered)

    inside = [c for c in contacts.values() if t0 <= c.created < t1]
    before = [c for c in contacts.values() if c.created < t0]
    assert slow_share(inside) > 0.45
    assert slow_share(before) < 0.15
    resolved = [e for c in inside for e in c.events if e.type == "contact.resolved"]
    fcr = sum(bool(e.first_contact) for e in resolved) / len(resolved)
    at = start + timedelta(hours=1, minutes=30)
    expected = sim.true_value("fcr_rate", at, team="billing")
    assert expected < 0.8 * sim.true_value("fcr_rate", start, team="billing")  # capped: fewer first-contact resolutions
    assert within(fcr, expected, len(resolved))
