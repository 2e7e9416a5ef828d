"""Settings of the dataflow (``streams``), of the detectors it runs and of its InfluxDB sink."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator

from sqm.config.base import Section


class StreamSettings(Section):
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
    ts_max_age_s: float = Field(7 * 86400.0, ge=0, description="an event's ts may be at most this far before the wall "
                                "clock (the accepted history); older ones are refused at ingest and dead-lettered; 0: no bound")
    ts_max_ahead_s: float = Field(300.0, ge=0, description="an event's ts may be at most this far after the wall clock "
                                  "(the senders' clock skew); 0: no bound")


class DetectorSettings(Section):
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



class InfluxSettings(Section):
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

