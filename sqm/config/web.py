"""Settings of the API: listening, keys, limits, the wallboard's defaults, helpdesk webhooks."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from sqm.config.base import Section


class ApiKey(Section):
    key: SecretStr
    role: Literal["ingest", "viewer", "supervisor", "admin"]
    name: str = ""


class WebhookSource(Section):
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


class ApiSettings(Section):
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
    sse_max_streams: int = Field(400, ge=1, description="open /v1/live streams in all (keep it well below the server's "
                                 "connection limit, 1,000 under `sqm api`, so that ingest always gets a connection)")
    sse_max_per_caller: int = Field(100, ge=1, description="open /v1/live streams per API key")
    sse_max_anonymous: int = Field(200, ge=0, description="open /v1/live streams without a key, all addresses together")
    sse_max_per_address: int = Field(10, ge=1, description="open /v1/live streams without a key, per client address")
    redis_headroom: float = Field(
        0.1, ge=0, lt=1, description="share of Redis maxmemory kept for the dataflow's writes: ingest answers 503 above "
        "maxmemory x (1 - this)"
    )
    redis_memory_check_s: float = Field(1.0, gt=0, description="how long a reading of Redis INFO memory is reused")
    webhooks: list[WebhookSource] = Field(default_factory=list, description="helpdesks that post webhooks")
    strict_dimensions: bool = Field(
        False, description="refuse events whose team, channel or region is not configured (422) instead of counting them"
    )

