"""The one validated settings object.

Sources, highest priority first: keyword arguments, ``SQM_*`` environment variables
(nested with ``__``: ``SQM_STREAMS__PARTITIONS=8``), a secrets directory
(``SQM_SECRETS_DIR``, one file per variable), the YAML file (``sqm.yaml`` or
``SQM_CONFIG``), then the defaults below, which carry the customer's service
standards. Nothing else in sqm reads ``os.environ``.

``REDIS_URL`` and ``INFLUX_URL``/``INFLUX_TOKEN``/``INFLUX_ORG``/``INFLUX_BUCKET`` are
also read under those plain names, as the README promises.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from sqm.errors import ConfigError

DEFAULT_CONFIG_FILE = "sqm.yaml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Team(_Section):
    name: str
    display: str = ""
    display_zh: str = ""


class Channel(_Section):
    name: str
    answer_target_s: float = Field(gt=0, description="a contact answered later than this timed out")
    display: str = ""
    display_zh: str = ""


class Targets(_Section):
    """KPI targets from the customer's service standards (DESIGN.md KPI table)."""

    frt_avg_s: float = 120.0
    service_level: float = 0.95
    fcr_rate: float = 0.85
    csat: float = 0.90
    nps: float = 50.0
    complaint_rate: float = 0.02
    complaint_timely_rate: float = 0.98
    complaint_response_general_s: float = 2 * 3600.0
    complaint_response_major_s: float = 30 * 60.0
    feedback_close_s: float = 72 * 3600.0


class StreamSettings(_Section):
    """The KPI dataflow (docs/streams.md, docs/scaling.md)."""

    partitions: int = Field(15, ge=1, le=1024, description="event streams; a team's events share one (CRC-32 of the team); "
                            "15 puts the default teams on 4 streams, balanced over 2 flow processes")
    allowed_lateness_s: float = Field(120.0, ge=0, description="event seconds an event may trail the newest; later ones are dead-lettered")
    idle_close_s: float = Field(5.0, gt=0, description="wall seconds of source idleness before windows advance on system time")
    dedupe_horizon_s: float = Field(6 * 3600.0, gt=0, description="event seconds an event id is at least remembered (at most about twice; "
                                    "at least the lateness)")
    contact_max_age_s: float = Field(7 * 86400.0, gt=0, description="a contact still waiting after this is no longer tracked")
    batch_size: int = Field(1000, ge=1, description="stream entries per read x 10 (entries hold up to 100 events)")
    read_block_ms: int = Field(200, ge=1, description="poll interval of an idle stream; the source never blocks")
    history_hours: float = Field(48.0, gt=0)
    max_series: int = Field(100_000, ge=1, description="cardinality limit of (team, channel, region) combinations")
    stream_maxlen: int = Field(5_000_000, ge=1000)
    recovery: bool = Field(True, description="snapshot state and stream offsets under state_dir/recovery; resume there")
    epoch_s: float = Field(10.0, gt=0, description="wall seconds between recovery snapshots")


class DetectorSettings(_Section):
    """Detector settings (docs/detectors.md). A KPI is watched when it has a ``swing``."""

    min_volume: int = Field(20, ge=0, description="no alert on a window whose KPI has a smaller n")
    min_n: dict[str, int] = Field(default_factory=dict, description="per-KPI override of min_volume")
    swing: dict[str, float] = Field(
        default_factory=lambda: {
            "timeout_rate": 0.20,
            "frt_avg_s": 0.30,
            "abandon_rate": 0.30,
            "complaint_rate": 0.50,
            "service_level": 0.10,
            "csat": 0.10,
            "fcr_rate": 0.10,
        },
        description="relative change vs baseline that raises an anomaly, per KPI",
    )
    direction: dict[str, Literal["up", "down", "both"]] = Field(
        default_factory=dict, description="which way is bad, per KPI (default: from the KPI table)"
    )
    z_min: float = Field(3.5, gt=0, description="a swing must also exceed this many sd of sampling noise")
    min_expected_count: float = Field(
        5.0, ge=0, description="ratios: no alert while fewer bad outcomes are expected (in the window or baseline)"
    )
    overdispersion: float = Field(1.0, ge=1.0, description="multiplier of the sampling variance")
    baseline_windows: int = Field(120, ge=2, description="windows in the rolling baseline")
    warmup_windows: int = Field(15, ge=1, description="baseline windows needed before alerting ('learning')")
    cold_start_minutes: dict[str, float] = Field(
        default_factory=lambda: {
            "frt_avg_s": 360.0,
            "frt_p50_s": 360.0,
            "frt_p90_s": 360.0,
            "complaint_rate": 360.0,
            "complaint_timely_rate": 360.0,
            "csat": 240.0,
            "nps": 240.0,
            "fcr_rate": 240.0,
            "resolution_rate": 240.0,
            "aht_s": 240.0,
            "volume": 1440.0,
            "backlog": 1440.0,
        },
        description="per KPI: minutes after a series' first window before it may alert (late events still arriving)",
    )
    cold_start_default_minutes: float = Field(60.0, ge=0, description="cold start of the KPIs not in cold_start_minutes")
    seasonal: list[str] = Field(
        default_factory=lambda: ["volume", "backlog"],
        description="watched KPIs judged against the hour-of-week baseline instead of the rolling one",
    )
    holidays: list[date] = Field(
        default_factory=list,
        description="site-local dates (alerts.timezone) on which the seasonal KPIs (volume, backlog) are neither "
        "judged nor learned: a holiday's rhythm is not a normal day's",
    )
    cusum: list[str] = Field(
        default_factory=lambda: ["timeout_rate"],
        description="watched KPIs that also get a CUSUM of their per-contact evidence (small lasting shifts such as "
        "+20 % timeouts, which no single window can show)",
    )
    cusum_h: float = Field(12.0, gt=0, description="CUSUM alarm threshold (nats)")
    evidence_window: Literal["1m", "5m"] | None = Field(
        "1m",
        description="tumbling windows the flow also passes to each monitor: the fast windows are made of them and "
        "they feed the CUSUMs (per-contact evidence); unset: neither (the CUSUMs then use the detector window's "
        "non-overlapping windows)",
    )
    fast_windows: list[int] = Field(
        default_factory=lambda: [5, 15],
        description="short windows (minutes, multiples of the evidence window) made of the evidence window's "
        "snapshots and judged by the swing rule beside the detector window: a large step is seen in minutes "
        "instead of when it fills the rolling hour; needs evidence_window",
    )
    fast: list[str] = Field(
        default_factory=lambda: ["frt_avg_s", "csat", "complaint_rate"],
        description="watched KPIs judged on the fast windows too (not timeouts: on a realistic simulated day "
        "their short bursts, e-mails crossing their target at night, raised false alerts; docs/detectors.md)",
    )
    rhythm: list[str] = Field(
        default_factory=lambda: ["frt_avg_s", "timeout_rate", "fcr_rate"],
        description="watched KPIs whose rolling baseline is carried by their hour-of-week rhythm to the window's "
        "time, after a day of history (response times rise with the day's load)",
    )
    drift: list[str] = Field(
        default_factory=list,
        description="watched KPIs also judged against the hour-of-week baseline after a day (slow drifts; off: "
        "its spread ignores n, so quiet nights raise false alerts, see docs/detectors.md)",
    )
    persistence: int = Field(3, ge=1, description="breaching windows (k of persistence_of) before an anomaly fires")
    persistence_of: int | None = Field(None, ge=1, description="m of the k-of-m rule (default: k in a row)")
    clear_windows: int | None = Field(None, ge=1, description="calm windows in a row that resolve (default: persistence)")
    clear_ratio: float = Field(0.5, gt=0, lt=1, description="hysteresis: calm below this fraction of the firing level")
    critical_factor: float = Field(2.5, gt=1, description="critical when the change is surely above this x swing")
    adapt_after_minutes: float = Field(240.0, gt=0, description="a lasting level shift becomes the new baseline after this")
    top_contributors: int = Field(3, ge=0, description="child series attached to an aggregate's anomaly")
    sla: list[Literal["frt_avg_s", "service_level", "fcr_rate", "csat", "nps", "complaint_rate", "complaint_timely_rate"]] = (
        Field(default_factory=list, description="KPIs that alert when beyond their target (targets:) in k of m windows")
    )
    sla_k: int = Field(5, ge=1, description="SLA rule: windows beyond target (k)...")
    sla_m: int | None = Field(None, ge=1, description="...of the last m windows (default 2k)")
    window: Literal["1m", "5m", "1h", "60m"] = "60m"

    @model_validator(mode="after")
    def _fast_windows_fit(self) -> DetectorSettings:
        step = {"1m": 1, "5m": 5}.get(self.evidence_window or "1m", 1)
        bad = [m for m in self.fast_windows if m < step or m % step or m > 60]
        if bad:
            msg = f"fast_windows {bad}: minutes from {step} to 60, multiples of the evidence window ({step})"
            raise ValueError(msg)
        return self


_HHMM = r"^([01]\d|2[0-3]):[0-5]\d$"


class QuietHours(_Section):
    """A daily window (site time zone) in which a receiver gets only critical alerts."""

    start: str = Field("22:00", pattern=_HHMM)
    end: str = Field("08:00", pattern=_HHMM, description="may be earlier than start: the window then spans midnight")
    days: list[int] = Field(default_factory=lambda: list(range(7)), description="0 = Monday; the day the window starts")


class Receiver(_Section):
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
        import re

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


class Route(_Section):
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
    import re

    found = re.match(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$", text)
    if not found:
        msg = f"matcher {text!r} is not of the form label=value, label!=value, label=~regex or label!~regex"
        raise ValueError(msg)
    if found[2] in ("=~", "!~"):
        try:
            re.compile(found[3])
        except re.error as err:
            msg = f"matcher {text!r}: bad regular expression: {err}"
            raise ValueError(msg) from err


class InhibitRule(_Section):
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


class Person(_Section):
    name: str
    wecom_user: str = Field("", description="WeCom user id, @-mentioned in WeCom messages")
    mobile: str = ""
    email: str = Field("", description="escalations to this person are also mailed here (needs alerts.email_url)")
    receiver: str | None = Field(None, description="a personal receiver (e.g. their mailto://) escalations also go to")
    language: Literal["en", "zh"] = "zh"


class Shift(_Section):
    """Who holds which role (supervisor, team_lead, manager…) during a daily window, per team ("*" = any)."""

    name: str
    start: str = Field("00:00", pattern=_HHMM)
    end: str = Field("00:00", pattern=_HHMM, description="equal to start: all day")
    days: list[int] = Field(default_factory=lambda: list(range(7)))
    team: str = "*"
    roles: dict[str, str] = Field(default_factory=dict, description="role → person name")


class Roster(_Section):
    people: list[Person] = Field(default_factory=list)
    shifts: list[Shift] = Field(default_factory=list)


class EscalationLevel(_Section):
    after_s: float = Field(ge=0, description="seconds after the alert fired, while unacknowledged")
    role: str
    receiver: str | None = Field(None, description="default: the receiver the alert was routed to")


class EscalationPolicy(_Section):
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


class AlertSettings(_Section):
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

    @model_validator(mode="after")
    def _check_references(self) -> AlertSettings:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as err:
            msg = f"alerts.timezone: unknown time zone {self.timezone!r}"
            raise ValueError(msg) from err
        names = {r.name for r in self.receivers}
        if len(names) != len(self.receivers):
            msg = f"alerts.receivers: names must be unique, got {[r.name for r in self.receivers]}"
            raise ValueError(msg)

        def known(where: str, name: str | None) -> None:
            if name is not None and name not in names:
                msg = f"{where}: unknown receiver {name!r} (known: {sorted(names)})"
                raise ValueError(msg)

        if self.route.receiver is None:
            msg = "alerts.route.receiver: the root route needs a receiver"
            raise ValueError(msg)
        if "{token}" not in self.ack_path:
            msg = f"alerts.ack_path: must contain {{token}}, got {self.ack_path!r}"
            raise ValueError(msg)
        stack = [("alerts.route", self.route)]
        while stack:
            where, route = stack.pop()
            known(f"{where}.receiver", route.receiver)
            if route.escalation is not None and route.escalation not in self.escalation_policies:
                msg = f"{where}.escalation: unknown policy {route.escalation!r} (known: {sorted(self.escalation_policies)})"
                raise ValueError(msg)
            stack.extend((f"{where}.routes[{i}]", r) for i, r in enumerate(route.routes))
        for r in self.receivers:
            known(f"alerts.receivers[{r.name}].failover", r.failover)
        for name, policy in self.escalation_policies.items():
            for i, level in enumerate(policy.levels):
                known(f"alerts.escalation_policies.{name}.levels[{i}].receiver", level.receiver)
        people = {p.name for p in self.roster.people}
        for p in self.roster.people:
            known(f"alerts.roster.people[{p.name}].receiver", p.receiver)
        for s in self.roster.shifts:
            for role, person in s.roles.items():
                if person not in people:
                    msg = f"alerts.roster.shifts[{s.name}].roles.{role}: unknown person {person!r} (known: {sorted(people)})"
                    raise ValueError(msg)
        return self


class ApiKey(_Section):
    key: SecretStr
    role: Literal["ingest", "viewer", "supervisor", "admin"]
    name: str = ""


class WebhookSource(_Section):
    """A helpdesk posting its webhooks to ``/v1/webhooks/{name}`` (docs/api.md)."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")
    kind: Literal["chatwoot", "zendesk"]
    secret: SecretStr = Field(SecretStr(""), description="HMAC signing secret; empty: an ingest key is needed instead")
    team_map: dict[str, str] = Field(default_factory=dict, description="helpdesk team/group/inbox name -> sqm team")
    default_team: str = Field("", description="team of unmapped conversations; empty: they go to the dead-letter stream")
    channel_map: dict[str, str] = Field(default_factory=dict, description="helpdesk channel -> sqm channel (adds to the built-in map)")
    default_channel: str = "chat"
    region: str = "default"
    max_skew_s: float = Field(300.0, gt=0, description="signed timestamps older or newer than this are refused (replays)")


class ApiSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    keys: list[ApiKey] = Field(default_factory=list)
    public_wallboard: bool = Field(True, description="serve the wallboard and read-only KPIs without a key")
    max_body_bytes: int = Field(1_000_000, ge=1024)
    max_batch: int = Field(1000, ge=1)
    base_url: str = Field("", description="public URL, for links in alerts (defaults to http://host:port)")
    wallboard_window: Literal["1m", "5m", "1h", "60m"] = Field(
        "60m", description="window the wallboard and /v1/kpis show by default (rolling 60 minutes: steady, enough n)"
    )
    wallboard_targets: dict[str, float] = Field(
        default_factory=lambda: {"frt_p90_s": 240.0, "timeout_rate": 0.05, "abandon_rate": 0.05},
        description="wallboard colour targets for KPIs the service standards (targets) do not set",
    )
    warn_margin: float = Field(
        0.2, ge=0, le=1, description="amber when a KPI meets its target with less than this share of the room to spare"
    )
    rate_limit_per_s: float = Field(200.0, ge=0, description="requests per second per key or client address (0: off)")
    rate_limit_burst: int = Field(1000, ge=1, description="requests a caller may make at once above the rate")
    sse_ping_s: float = Field(15.0, gt=0, description="keep-alive comment interval on /v1/live")
    webhooks: list[WebhookSource] = Field(default_factory=list, description="helpdesks that post webhooks")
    strict_dimensions: bool = Field(
        False, description="refuse events whose team, channel or region is not configured (422) instead of counting them"
    )


class InfluxSettings(_Section):
    url: str = Field("", validation_alias=AliasChoices("url", "INFLUX_URL"))
    token: SecretStr = SecretStr("")
    org: str = "sqm"
    bucket: str = "sqm"
    measurement: str = "sqm_kpi"
    batch_size: int = Field(5000, ge=1)
    flush_interval_ms: int = Field(1000, ge=10)
    timeout_ms: int = Field(5000, ge=100)

    @property
    def enabled(self) -> bool:
        return bool(self.url)


def _default_teams() -> list[Team]:
    return [
        Team(name="billing", display="Billing", display_zh="账务"),
        Team(name="tech", display="Tech support", display_zh="技术支持"),
        Team(name="sales", display="Sales", display_zh="销售"),
        Team(name="vip", display="VIP care", display_zh="VIP服务"),
    ]


def _default_channels() -> list[Channel]:
    return [
        Channel(name="phone", answer_target_s=120, display="Phone", display_zh="电话"),
        Channel(name="chat", answer_target_s=30, display="Chat", display_zh="在线"),
        Channel(name="wechat", answer_target_s=30, display="WeChat", display_zh="微信"),
        Channel(name="email", answer_target_s=7200, display="E-mail", display_zh="邮件"),
    ]


class Settings(BaseSettings):
    """Everything sqm can be told. See ``sqm.example.yaml`` for a commented file."""

    model_config = SettingsConfigDict(
        env_prefix="SQM_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
        validate_default=True,
    )

    environment: Literal["development", "production"] = "development"
    redis_url: str = Field("", validation_alias=AliasChoices("SQM_REDIS_URL", "REDIS_URL", "redis_url"))
    state_dir: Path = Path(".sqm")
    teams: list[Team] = Field(default_factory=_default_teams)
    channels: list[Channel] = Field(default_factory=_default_channels)
    regions: list[str] = Field(default_factory=lambda: ["east", "north", "south"])
    targets: Targets = Field(default_factory=Targets)
    streams: StreamSettings = Field(default_factory=StreamSettings)
    detectors: DetectorSettings = Field(default_factory=DetectorSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    influx: InfluxSettings = Field(default_factory=InfluxSettings)

    @field_validator("channels")
    @classmethod
    def _unique_channels(cls, v: list[Channel]) -> list[Channel]:
        names = [c.name for c in v]
        if len(set(names)) != len(names):
            msg = f"channel names must be unique, got {names}"
            raise ValueError(msg)
        return v

    @model_validator(mode="after")
    def _no_default_secrets_in_production(self) -> Settings:
        if self.environment == "production" and not self.api.keys:
            msg = "api.keys: production needs at least one API key (set SQM_API__KEYS or api.keys in sqm.yaml)"
            raise ValueError(msg)
        for k in self.api.keys:
            if self.environment == "production" and len(k.key.get_secret_value()) < 16:
                msg = f"api.keys[{k.name or k.role}].key: use at least 16 characters in production"
                raise ValueError(msg)
        return self

    # --- derived ------------------------------------------------------------------
    def answer_target_s(self, channel: str) -> float:
        """The channel's answer target; an unknown channel gets the general 2-minute target."""
        for c in self.channels:
            if c.name == channel:
                return c.answer_target_s
        return self.targets.frt_avg_s

    @property
    def answer_targets(self) -> dict[str, float]:
        return {c.name: c.answer_target_s for c in self.channels}

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        yaml_file = _config_file()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings, _InfluxEnv(settings_cls)]
        secrets_dir = os.environ.get("SQM_SECRETS_DIR")
        if secrets_dir:
            from pydantic_settings import SecretsSettingsSource

            sources.append(SecretsSettingsSource(settings_cls, secrets_dir=secrets_dir))
        if yaml_file is not None:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=yaml_file))
        return tuple(sources)


class _InfluxEnv(PydanticBaseSettingsSource):
    """Reads the plain INFLUX_* variables the README documents into ``influx``."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        plain = {k: os.environ[f"INFLUX_{k.upper()}"] for k in ("url", "token", "org", "bucket") if f"INFLUX_{k.upper()}" in os.environ}
        return {"influx": plain} if plain else {}


_CONFIG_OVERRIDE: list[Path | None] = []


def _config_file() -> Path | None:
    if _CONFIG_OVERRIDE:
        return _CONFIG_OVERRIDE[-1]
    name = os.environ.get("SQM_CONFIG")
    if name:
        return Path(name)
    default = Path(DEFAULT_CONFIG_FILE)
    return default if default.exists() else None


def _describe(err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "<root>"
        bad = e.get("input")
        shown = "" if isinstance(bad, dict | list) or bad is None else f" (got {bad!r})"
        lines.append(f"{key}: {e['msg']}{shown}")
    return "; ".join(lines)


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Read and validate the settings once, at an entry point.

    Raises ConfigError naming every bad key (``streams.partitions: Input should be
    greater than or equal to 1 (got 0)``).
    """
    path = Path(config_file) if config_file is not None else None
    if path is not None and not path.exists():
        msg = f"config file {str(path)!r} does not exist"
        raise ConfigError(msg)
    if path is not None:
        try:
            yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as err:
            msg = f"{path}: not valid YAML: {err}"
            raise ConfigError(msg) from err
    _CONFIG_OVERRIDE.append(path) if path is not None else None
    try:
        return Settings(**overrides)
    except ValidationError as err:
        where = f"{path or _config_file() or 'settings'}: "
        raise ConfigError(where + _describe(err)) from err
    finally:
        if path is not None:
            _CONFIG_OVERRIDE.pop()
