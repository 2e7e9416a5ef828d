"""Root-cause drill-down: which child series explain an aggregate's change.

An aggregate KPI is the n-weighted mean of its children (a team's timeout rate is
the mean of its channels' rates weighted by their contacts), so its change
splits exactly into the children's ``n_c * (value_c - expected_c) / N``. A count
(volume) splits into ``value_c - expected_c``. Children are ranked by their share
of the change in the bad direction, separately per dimension (channels add up to
the team, and so do regions).

>>> from detectors.drilldown import Child, rank
>>> kids = [Child("channel", "chat", 0.30, 0.15, 500), Child("channel", "phone", 0.11, 0.10, 500),
...         Child("channel", "email", 0.04, 0.05, 200)]
>>> [(c.value, round(c.share, 2)) for c in rank(kids, kind="ratio", sign=1.0, top=2)]
[('chat', 0.94), ('phone', 0.06)]
"""

from __future__ import annotations

from typing import NamedTuple

from sqm.models import ALL, Contributor, KpiSnapshot


class Child(NamedTuple):
    dimension: str
    value: str
    kpi_value: float | None
    expected: float | None
    n: float


def child_dimension(parent: KpiSnapshot, child: KpiSnapshot) -> tuple[str, str] | None:
    """The dimension a child adds below its parent (``("channel", "chat")``), if it is one."""
    for name, p, c in zip(("team", "channel", "region"), parent.dims, child.dims, strict=True):
        if p == ALL and c != ALL:
            return name, c
    return None


def rank(children: list[Child], *, kind: str, sign: float, top: int, min_share: float = 0.05) -> list[Contributor]:
    """The top children by their share of the change in the bad direction (``sign`` +1 up, -1 down)."""
    by_dim: dict[str, list[tuple[Child, float]]] = {}
    for c in children:
        if c.kpi_value is None or c.expected is None:
            continue
        weight = 1.0 if kind == "count" else max(c.n, 0.0)
        by_dim.setdefault(c.dimension, []).append((c, sign * weight * (c.kpi_value - c.expected)))
    ranked: list[Contributor] = []
    for items in by_dim.values():
        total = sum(v for _, v in items if v > 0)
        if total <= 0:
            continue
        for c, v in items:
            share = v / total
            if v > 0 and share >= min_share:
                ranked.append(
                    Contributor(
                        dimension=c.dimension,  # type: ignore[arg-type]
                        value=c.value,
                        kpi_value=c.kpi_value,
                        expected=c.expected,
                        share=share,
                    )
                )
    ranked.sort(key=lambda c: -c.share)
    return ranked[:top]
