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
    partitions: int = Field(4, ge=1, le=1024)
    allowed_lateness_s: float = Field(120.0, ge=0)
    idle_close_s: float = Field(5.0, gt=0, description="wall seconds of source idleness before windows advance on system time")
    dedupe_horizon_s: float = Field(6 * 3600.0, gt=0)
    contact_max_age_s: float = Field(7 * 86400.0, gt=0)
    batch_size: int = Field(1000, ge=1)
    read_block_ms: int = Field(200, ge=1, description="XREAD block timeout; the source never blocks longer")
    history_hours: float = Field(48.0, gt=0)
    max_series: int = Field(100_000, ge=1, description="cardinality limit of (team, channel, region) combinations")
    stream_maxlen: int = Field(5_000_000, ge=1000)
    recovery: bool = True


class DetectorSettings(_Section):
    """Per-KPI settings of the swing rule; detectors/ may grow this section."""

    min_volume: int = Field(20, ge=0, description="no alert on a window with fewer contacts")
    swing: dict[str, float] = Field(
        default_factory=lambda: {"timeout_rate": 0.20, "frt_avg_s": 0.30, "abandon_rate": 0.30, "complaint_rate": 0.50},
        description="relative change vs baseline that raises an anomaly, per KPI",
    )
    baseline_windows: int = Field(30, ge=2, description="windows in the rolling baseline")
    warmup_windows: int = Field(15, ge=1)
    persistence: int = Field(3, ge=1, description="windows in a row before an anomaly fires")
    window: Literal["1m", "5m", "1h", "60m"] = "60m"


class Receiver(_Section):
    name: str
    urls: list[SecretStr] = Field(default_factory=list, description="Apprise URLs (they carry tokens: never logged)")
    language: Literal["en", "zh"] = "zh"


class Route(_Section):
    receiver: str
    match: dict[str, str] = Field(default_factory=dict)
    continue_: bool = Field(False, alias="continue")
    group_by: list[str] | None = None
    group_wait_s: float | None = None
    group_interval_s: float | None = None
    repeat_interval_s: float | None = None
    routes: list[Route] = Field(default_factory=list)


class AlertSettings(_Section):
    receivers: list[Receiver] = Field(default_factory=lambda: [Receiver(name="console")])
    route: Route = Field(default_factory=lambda: Route(receiver="console"))
    group_by: list[str] = Field(default_factory=lambda: ["team", "kpi"])
    group_wait_s: float = Field(30.0, ge=0)
    group_interval_s: float = Field(300.0, ge=0)
    repeat_interval_s: float = Field(4 * 3600.0, ge=0)
    timezone: str = "Asia/Shanghai"
    retry_max_s: float = Field(300.0, gt=0)

    @model_validator(mode="after")
    def _routes_name_receivers(self) -> AlertSettings:
        names = {r.name for r in self.receivers}
        stack = [("alerts.route", self.route)]
        while stack:
            where, route = stack.pop()
            if route.receiver not in names:
                msg = f"{where}.receiver: unknown receiver {route.receiver!r} (known: {sorted(names)})"
                raise ValueError(msg)
            stack.extend((f"{where}.routes[{i}]", r) for i, r in enumerate(route.routes))
        return self


class ApiKey(_Section):
    key: SecretStr
    role: Literal["ingest", "viewer", "supervisor", "admin"]
    name: str = ""


class ApiSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    keys: list[ApiKey] = Field(default_factory=list)
    public_wallboard: bool = Field(True, description="serve the wallboard and read-only KPIs without a key")
    max_body_bytes: int = Field(1_000_000, ge=1024)
    max_batch: int = Field(1000, ge=1)
    base_url: str = Field("", description="public URL, for links in alerts (defaults to http://host:port)")
    wallboard_window: Literal["1m", "5m", "1h", "60m"] = Field("1m", description="window the wallboard shows by default")
    wallboard_targets: dict[str, float] = Field(
        default_factory=lambda: {"frt_p90_s": 240.0, "timeout_rate": 0.05, "abandon_rate": 0.05},
        description="wallboard colour targets for KPIs the service standards (targets) do not set",
    )
    warn_margin: float = Field(
        0.2, ge=0, le=1, description="amber when a KPI meets its target with less than this share of the room to spare"
    )
    rate_limit_per_s: float = Field(50.0, ge=0, description="requests per second per key or client address (0: off)")
    rate_limit_burst: int = Field(200, ge=1)
    sse_ping_s: float = Field(15.0, gt=0, description="keep-alive comment interval on /v1/live")


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
