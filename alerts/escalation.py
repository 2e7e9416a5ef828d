"""Escalation policies resolved through the roster: who is on duty in a role, now.

>>> from datetime import UTC, datetime
>>> from sqm.config import Person, Roster, Shift
>>> r = Roster(people=[Person(name="Wang", wecom_user="wangli"), Person(name="Zhao", wecom_user="zhao")],
...            shifts=[Shift(name="day", start="08:00", end="20:00", roles={"supervisor": "Wang"}),
...                    Shift(name="night", start="20:00", end="08:00", roles={"supervisor": "Zhao"})])
>>> tz = ZoneInfo("Asia/Shanghai")
>>> on_duty(r, "supervisor", "billing", datetime(2026, 3, 2, 2, 0, tzinfo=UTC), tz).name  # 10:00 in Shanghai
'Wang'
>>> on_duty(r, "supervisor", "billing", datetime(2026, 3, 2, 14, 0, tzinfo=UTC), tz).name  # 22:00
'Zhao'
"""

from __future__ import annotations

from collections.abc import Container, Sequence
from datetime import datetime, time, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from pydantic import SecretStr

from sqm.config import AlertSettings, EscalationLevel, EscalationPolicy, Person, Receiver, Roster, Shift


def _hhmm(text: str) -> time:
    h, m = text.split(":")
    return time(int(h), int(m))


def in_shift(shift: Shift, now: datetime, tz: ZoneInfo) -> bool:
    local = now.astimezone(tz)
    start, end = _hhmm(shift.start), _hhmm(shift.end)
    for back in (0, 1):
        day = (local - timedelta(days=back)).date()
        if day.weekday() not in shift.days:
            continue
        begin = datetime.combine(day, start, tzinfo=tz)
        finish = datetime.combine(day if end > start else day + timedelta(days=1), end, tzinfo=tz)
        if begin <= local < finish:
            return True
    return False


def on_duty(roster: Roster, role: str, team: str, now: datetime, tz: ZoneInfo) -> Person | None:
    """The person holding ``role`` for ``team`` now; a team's own shift wins over a ``*`` shift."""
    people = {p.name: p for p in roster.people}
    for wanted in (team, "*"):
        for shift in roster.shifts:
            if shift.team == wanted and role in shift.roles and in_shift(shift, now, tz):
                return people.get(shift.roles[role])
    return None


def immediate_levels(policy: EscalationPolicy) -> int:
    """How many leading levels have no delay: their people are @-mentioned in the first notice itself."""
    n = 0
    for level in policy.levels:
        if level.after_s > 0:
            break
        n += 1
    return n


def next_delay(levels: Sequence[EscalationLevel], done: int) -> float | None:
    """Seconds from level ``done - 1`` (or from firing, when ``done`` = 0) to level ``done``; None when all are done."""
    if done >= len(levels):
        return None
    prev = levels[done - 1].after_s if done > 0 else 0.0
    return max(0.0, levels[done].after_s - prev)


def mention_of(person: Person | None) -> list[str]:
    if person is None:
        return []
    return [person.wecom_user] if person.wecom_user else [person.mobile] if person.mobile else []


def person_receiver_name(person: str) -> str:
    return f"@{person}"


def escalation_targets(receiver: str, person: Person | None, known: Container[str]) -> list[str]:
    """Where one escalation level goes: its receiver, the person's own receiver, the person's mail receiver.

    >>> escalation_targets("ops", Person(name="Li", receiver="li-mail"), {"ops", "li-mail", "@Li"})
    ['ops', 'li-mail', '@Li']
    >>> escalation_targets("ops", None, {"ops"})
    ['ops']
    """
    targets = [receiver]
    if person is not None and person.receiver:
        targets.append(person.receiver)
    if person is not None and person_receiver_name(person.name) in known:
        targets.append(person_receiver_name(person.name))
    return list(dict.fromkeys(targets))


def person_receivers(cfg: AlertSettings) -> list[Receiver]:
    """One e-mail receiver per roster person with an address, through ``alerts.email_url`` (if set).

    >>> from sqm.config import AlertSettings
    >>> cfg = AlertSettings(email_url="mailtos://u:p@smtp.example.com?from=sqm@example.com",
    ...                     roster={"people": [{"name": "Li", "email": "li@example.com", "language": "en"}]})
    >>> [(r.name, r.urls[0].get_secret_value(), r.language) for r in person_receivers(cfg)]
    [('@Li', 'mailtos://u:p@smtp.example.com?from=sqm%40example.com&to=li%40example.com', 'en')]
    """
    base = cfg.email_url.get_secret_value()
    if not base:
        return []
    parts = urlsplit(base)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "to"]
    out = []
    for p in cfg.roster.people:
        if p.email:
            url = urlunsplit(parts._replace(query=urlencode([*query, ("to", p.email)])))
            out.append(Receiver(name=person_receiver_name(p.name), urls=[SecretStr(url)], language=p.language))
    return out
