"""The ``Settings`` object and ``load_settings``: sources, validation, messages naming the bad key."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from sqm.config.alerting import AlertSettings
from sqm.config.center import Channel, NameField, Targets, Team, default_channels, default_teams
from sqm.config.dataflow import DetectorSettings, InfluxSettings, StreamSettings
from sqm.config.improve import ImproveSettings
from sqm.config.production import production_problems
from sqm.config.text import TextSettings
from sqm.config.web import ApiSettings
from sqm.errors import ConfigError
from sqm.redact import redact_text

DEFAULT_CONFIG_FILE = "sqm.yaml"


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
    teams: list[Team] = Field(default_factory=default_teams)
    channels: list[Channel] = Field(default_factory=default_channels)
    regions: list[NameField] = Field(default_factory=lambda: ["east", "north", "south"])
    targets: Targets = Field(default_factory=Targets)
    streams: StreamSettings = Field(default_factory=StreamSettings)
    detectors: DetectorSettings = Field(default_factory=DetectorSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    influx: InfluxSettings = Field(default_factory=InfluxSettings)
    improve: ImproveSettings = Field(default_factory=ImproveSettings)
    text: TextSettings = Field(default_factory=TextSettings)

    @field_validator("channels")
    @classmethod
    def _unique_channels(cls, v: list[Channel]) -> list[Channel]:
        names = [c.name for c in v]
        if len(set(names)) != len(names):
            msg = f"channel names must be unique, got {names}"
            raise ValueError(msg)
        return v

    @model_validator(mode="after")
    def _production_rules(self) -> Settings:
        problems = production_problems(self)
        if problems:
            msg = "; ".join(problems)
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


_SECRET_PARTS = ("key", "secret", "token", "password", "url")
"""A bad value under a key whose name holds one of these is not echoed in the message (it may be a secret)."""


def _describe_one(error: Any) -> str:
    key = ".".join(str(p) for p in error["loc"]) or "<root>"
    if error["type"] == "value_error":
        reason = str(error.get("ctx", {}).get("error", ""))
        if not error["loc"] or reason.startswith(key + "."):
            return reason  # a check across keys names its own key (``api.webhooks[x].secret: ...``)
    bad = error.get("input")
    secret = any(part in str(p).lower() for p in error["loc"] for part in _SECRET_PARTS)
    shown = "" if secret or isinstance(bad, dict | list) or bad is None else f" (got {bad!r})"
    return f"{key}: {error['msg']}{shown}"


def _describe(err: ValidationError) -> str:
    """Every error, naming its key; URLs (they carry tokens) masked to their scheme and host wherever they appear."""
    return redact_text("; ".join(_describe_one(e) for e in err.errors()))


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
