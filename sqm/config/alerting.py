"""Settings of the alert engine: receivers, the routing tree, muting, escalation, delivery."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ConfigDict, Field, SecretStr, field_validator, model_validator

from sqm.config.base import HHMM, Section
from sqm.matchers import parse


class QuietHours(Section):
    """A daily window (site time zone) in which a receiver gets only critical alerts."""

    start: str = Field("22:00", pattern=HHMM)
    end: str = Field("08:00", pattern=HHMM, description="may be earlier than start: the window then spans midnight")
    days: list[int] = Field(default_factory=lambda: list(range(7)), description="0 = Monday; the day the window starts")


class Receiver(Section):
    name: str
    urls: list[SecretStr] = Field(default_factory=list, description="Apprise URLs (they carry tokens: never logged)")
    language: Literal["en", "zh"] = "zh"
    quiet_hours: list[QuietHours] = Field(default_factory=list)
    failover: str | None = Field(None, description="receiver that also gets a critical alert this one failed to take")
    mention: list[str] = Field(default_factory=list, description="WeCom user ids / mobiles always @-mentioned")

    @field_validator("urls")
    @classmethod
    def _expand_env(cls, v: list[SecretStr]) -> list[SecretStr]:
        """``${NAME}`` in a URL is replaced by that environment variable, so sqm.yaml holds no tokens."""
        out = []
        for url in v:
            raw = url.get_secret_value()
            for name in re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", raw):
                if name not in os.environ:
                    msg = f"URL refers to ${{{name}}}, but the environment variable {name} is not set"
                    raise ValueError(msg)
                raw = raw.replace(f"${{{name}}}", os.environ[name])
            out.append(SecretStr(raw))
        return out


class Route(Section):
    """A node of the routing tree (Alertmanager's route): unset settings are inherited from the parent."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    receiver: str | None = None
    match: dict[str, str] = Field(default_factory=dict, description="label → exact value")
    matchers: list[str] = Field(default_factory=list, description='"team=billing", "kpi=~frt_.*", "severity!=info"')
    continue_: bool = Field(False, alias="continue")
    group_by: list[str] | None = None
    group_wait_s: float | None = Field(None, ge=0)
    group_interval_s: float | None = Field(None, ge=0)
    repeat_interval_s: float | None = Field(None, ge=0)
    escalation: str | None = Field(None, description="name of an escalation policy")
    routes: list[Route] = Field(default_factory=list)

    @field_validator("matchers")
    @classmethod
    def _matchers_parse(cls, v: list[str]) -> list[str]:
        for m in v:
            _check_matcher(m)
        return v


def _check_matcher(text: str) -> None:
    """The matcher parses (``sqm.matchers``: RE2 for regular expressions), or ValueError naming it."""
    parse(text)


class InhibitRule(Section):
    """While an alert matching ``source`` fires, alerts matching ``target`` with the same ``equal`` labels are held."""

    source: list[str]
    target: list[str]
    equal: list[str] = Field(default_factory=list)

    @field_validator("source", "target")
    @classmethod
    def _matchers_parse(cls, v: list[str]) -> list[str]:
        for m in v:
            _check_matcher(m)
        return v


def _default_inhibit_rules() -> list[InhibitRule]:
    return [
        # a team-wide alert holds back the same KPI's per-channel alerts of that team
        InhibitRule(source=["channel=*"], target=["channel!=*"], equal=["kpi", "window", "team", "region"]),
        # an overall alert (all teams, all channels) holds back every per-channel alert of that KPI
        InhibitRule(source=["team=*", "channel=*"], target=["channel!=*"], equal=["kpi", "window"]),
    ]


class Person(Section):
    name: str
    wecom_user: str = Field("", description="WeCom user id, @-mentioned in WeCom messages")
    mobile: str = ""
    email: str = Field("", description="escalations to this person are also mailed here (needs alerts.email_url)")
    receiver: str | None = Field(None, description="a personal receiver (e.g. their mailto://) escalations also go to")
    language: Literal["en", "zh"] = "zh"


class Shift(Section):
    """Who holds which role (supervisor, team_lead, manager…) during a daily window, per team ("*" = any)."""

    name: str
    start: str = Field("00:00", pattern=HHMM)
    end: str = Field("00:00", pattern=HHMM, description="equal to start: all day")
    days: list[int] = Field(default_factory=lambda: list(range(7)))
    team: str = "*"
    roles: dict[str, str] = Field(default_factory=dict, description="role → person name")


class Roster(Section):
    people: list[Person] = Field(default_factory=list)
    shifts: list[Shift] = Field(default_factory=list)


class EscalationLevel(Section):
    after_s: float = Field(ge=0, description="seconds after the alert fired, while unacknowledged")
    role: str
    receiver: str | None = Field(None, description="default: the receiver the alert was routed to")


class EscalationPolicy(Section):
    levels: list[EscalationLevel] = Field(min_length=1)


def _default_policies() -> dict[str, EscalationPolicy]:
    return {
        "standard": EscalationPolicy(levels=[
            EscalationLevel(after_s=0, role="supervisor"),
            EscalationLevel(after_s=15 * 60, role="team_lead"),
            EscalationLevel(after_s=30 * 60, role="manager"),
        ]),
        "complaint_major": EscalationPolicy(levels=[
            EscalationLevel(after_s=0, role="supervisor"),
            EscalationLevel(after_s=5 * 60, role="team_lead"),
            EscalationLevel(after_s=10 * 60, role="manager"),
        ]),
    }


class HeartbeatSettings(Section):
    """Alarms for nobody watching: a source or team gone silent, the flow lagging, an alerter dead."""

    enabled: bool = Field(True, description="the alerters watch arrivals, the flow and each other")
    alpha: float = Field(0.001, gt=0, lt=0.5, description="a silence alerts when its probability under the "
                         "expected arrival rate of those hours is below this")
    half_life_weeks: float = Field(4.0, gt=0, description="exponential forgetting of the hour-of-week rates")
    min_minutes: float = Field(30.0, ge=1, description="an hour is judged once this many of its minutes were learned")
    min_silence_s: float = Field(300.0, ge=60, description="a shorter silence never alerts")
    forget_after_s: float = Field(7 * 86400.0, gt=0, description="a source silent this long is forgotten (its "
                                  "alarm resolves)")
    flow_lag_s: float = Field(900.0, gt=0, description="the flow's closed minutes this far behind the wall clock "
                              "while events arrive alert")
    alerter_stale_s: float = Field(60.0, gt=0, description="an alerter whose heartbeat is older is taken for dead")
    watchdog: bool = Field(True, description="the API process sends a dead-alerter alarm itself when no alerter beats")
    every_s: float = Field(60.0, ge=1, description="how often one alerter runs the heartbeat round (and the watchdog "
                           "looks, at most every 10 s)")
    severity: Literal["info", "warning", "critical"] = Field("warning", description="of a silence alarm")


class AlertSettings(Section):
    receivers: list[Receiver] = Field(default_factory=lambda: [Receiver(name="console")])
    route: Route = Field(default_factory=lambda: Route(receiver="console"))
    group_by: list[str] = Field(default_factory=lambda: ["team", "kpi"])
    group_wait_s: float = Field(30.0, ge=0)
    group_interval_s: float = Field(300.0, ge=0)
    repeat_interval_s: float = Field(4 * 3600.0, ge=0)
    send_resolved: bool = True
    timezone: str = "Asia/Shanghai"
    # life cycle
    pending_s: float = Field(0.0, ge=0, description="an alert stays pending this long before it fires (critical: never)")
    resolve_hold_s: float = Field(0.0, ge=0, description="a resolution waits this long for a re-fire (hysteresis)")
    flap_window_s: float = Field(1800.0, gt=0)
    flap_threshold: int = Field(4, ge=2, description="fire/resolve changes within flap_window_s that mark flapping")
    flap_hold_s: float = Field(900.0, ge=0, description="a flapping alert resolves only after this long quiet")
    timeline_max: int = Field(100, ge=10)
    inhibit_rules: list[InhibitRule] = Field(default_factory=_default_inhibit_rules)
    # escalation and acknowledgement
    escalation_policies: dict[str, EscalationPolicy] = Field(default_factory=_default_policies)
    roster: Roster = Field(default_factory=Roster)
    ack_timeout_s: float = Field(3600.0, ge=0, description="an acknowledgement lapses after this (0: never); escalation re-arms")
    signing_secret: SecretStr = Field(SecretStr(""), description="HMAC key of ack links; empty: a development key, no links in production")
    ack_link_ttl_s: float = Field(24 * 3600.0, gt=0)
    ack_path: str = Field("/ack/{token}", description="API path of the signed acknowledge link")
    wallboard_path: str = "/"
    # delivery
    retry_base_s: float = Field(2.0, gt=0)
    retry_max_s: float = Field(300.0, gt=0)
    give_up_after_s: float = Field(24 * 3600.0, gt=0, description="a notification still failing after this is marked failed")
    failover_after: int = Field(3, ge=1, description="failed attempts of a critical notification before its failover receiver gets it")
    send_lease_s: float = Field(60.0, gt=0, description="how long one alerter holds a notification it is sending")
    bot_rate_per_min: int = Field(20, ge=1, description="messages per minute per WeCom/DingTalk/Feishu bot key, across processes")
    timeout_s: float = Field(10.0, gt=0, description="HTTP timeout of one delivery")
    retention_s: float = Field(7 * 86400.0, gt=0, description="resolved alerts are forgotten this long after their last change")
    email_url: SecretStr = Field(SecretStr(""), description="Apprise mailto(s):// URL without `to`: escalations are mailed to the roster person's e-mail through it")
    consumer: str = Field("", description="consumer name in the anomalies group (default host-pid)")
    heartbeat: HeartbeatSettings = Field(default_factory=HeartbeatSettings)

    @model_validator(mode="after")
    def _check_references(self) -> AlertSettings:
        for check in _REFERENCE_CHECKS:
            check(self)
        return self


def _check_timezone(s: AlertSettings) -> None:
    try:
        ZoneInfo(s.timezone)
    except (ZoneInfoNotFoundError, ValueError) as err:
        msg = f"alerts.timezone: unknown time zone {s.timezone!r}"
        raise ValueError(msg) from err


def _check_receivers_unique(s: AlertSettings) -> None:
    names = [r.name for r in s.receivers]
    if len(set(names)) != len(names):
        msg = f"alerts.receivers: names must be unique, got {names}"
        raise ValueError(msg)


def _check_root_route(s: AlertSettings) -> None:
    if s.route.receiver is None:
        msg = "alerts.route.receiver: the root route needs a receiver"
        raise ValueError(msg)


def _check_ack_path(s: AlertSettings) -> None:
    if "{token}" not in s.ack_path:
        msg = f"alerts.ack_path: must contain {{token}}, got {s.ack_path!r}"
        raise ValueError(msg)


def _routes(root: Route) -> Iterator[tuple[str, Route]]:
    """Every node of the routing tree with its key (``alerts.route.routes[0]``), depth first."""
    stack = [("alerts.route", root)]
    while stack:
        where, route = stack.pop()
        yield where, route
        stack.extend((f"{where}.routes[{i}]", r) for i, r in enumerate(route.routes))


def _receiver_references(s: AlertSettings) -> Iterator[tuple[str, str | None]]:
    """(key, receiver name or None) of every place that names a receiver."""
    for where, route in _routes(s.route):
        yield f"{where}.receiver", route.receiver
    for r in s.receivers:
        yield f"alerts.receivers[{r.name}].failover", r.failover
    for name, policy in s.escalation_policies.items():
        for i, level in enumerate(policy.levels):
            yield f"alerts.escalation_policies.{name}.levels[{i}].receiver", level.receiver
    for p in s.roster.people:
        yield f"alerts.roster.people[{p.name}].receiver", p.receiver


def _check_receiver_references(s: AlertSettings) -> None:
    names = {r.name for r in s.receivers}
    for where, name in _receiver_references(s):
        if name is not None and name not in names:
            msg = f"{where}: unknown receiver {name!r} (known: {sorted(names)})"
            raise ValueError(msg)


def _check_escalation_references(s: AlertSettings) -> None:
    for where, route in _routes(s.route):
        if route.escalation is not None and route.escalation not in s.escalation_policies:
            msg = f"{where}.escalation: unknown policy {route.escalation!r} (known: {sorted(s.escalation_policies)})"
            raise ValueError(msg)


def _check_shift_people(s: AlertSettings) -> None:
    people = {p.name for p in s.roster.people}
    for shift in s.roster.shifts:
        for role, person in shift.roles.items():
            if person not in people:
                msg = f"alerts.roster.shifts[{shift.name}].roles.{role}: unknown person {person!r} (known: {sorted(people)})"
                raise ValueError(msg)


def _check_send_lease(s: AlertSettings) -> None:
    """A send that hangs until its timeout must end within the lease it starts with (see docs/alerts.md)."""
    if s.timeout_s >= s.send_lease_s:
        msg = (f"alerts.timeout_s: must be less than alerts.send_lease_s ({s.send_lease_s:g} s), got "
               f"{s.timeout_s:g} s; a send left without lease renewals would be sent twice")
        raise ValueError(msg)


_REFERENCE_CHECKS: tuple[Callable[[AlertSettings], None], ...] = (
    _check_timezone,
    _check_receivers_unique,
    _check_root_route,
    _check_ack_path,
    _check_receiver_references,
    _check_escalation_references,
    _check_shift_people,
    _check_send_lease,
)
"""What ``AlertSettings`` checks across its keys, in order; each raises ValueError naming the key."""
