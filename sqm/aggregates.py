"""The long-history record: one series' KPIs over one hour or one site-local day, mergeable.

The roll-up writes one ``KpiAggregate`` per series and hour and per series and day
(``grain`` ``1h`` / ``1d``) from the same accumulators as the live windows. Beside
each KPI's value and ``n`` it keeps what merging needs: NPS detractors and the
first-response histogram (the sketch's bins as ``(value, count)``), so a week, a
month or a quarter merged from days has exact rates and means and percentiles within
the sketch's error.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from sqm.models import ALL, AwareTime

Grain = Literal["1h", "1d"]


class KpiAggregate(msgspec.Struct, frozen=True, kw_only=True):
    grain: Grain
    start: AwareTime
    end: AwareTime
    team: str = ALL
    channel: str = ALL
    region: str = ALL
    kpis: dict[str, float | None]
    n: dict[str, int]
    nps_detractors: int = 0
    frt_hist: list[tuple[float, int]] = msgspec.field(default_factory=list)

    @property
    def series(self) -> str:
        return f"{self.grain}|{self.team}|{self.channel}|{self.region}"


def decode_aggregate(raw: bytes | str) -> KpiAggregate:
    return msgspec.json.decode(raw, type=KpiAggregate)
