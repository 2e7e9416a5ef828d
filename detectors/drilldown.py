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
    """The top children by their share of the change in the bad direction (``sign`` +1 up, -1 down).

    Children that share a value (a region's ``billing/phone`` and ``billing/chat``
    both add team ``billing``) are summed into one contributor.
    """
    merged: dict[tuple[str, str], list[float]] = {}  # (dimension, value) -> [weight, sum w*value, sum w*expected]
    for c in children:
        if c.kpi_value is None or c.expected is None:
            continue
        weight = 1.0 if kind == "count" else max(c.n, 0.0)
        m = merged.setdefault((c.dimension, c.value), [0.0, 0.0, 0.0])
        if kind == "count":
            m[0], m[1], m[2] = 1.0, m[1] + c.kpi_value, m[2] + c.expected
        else:
            m[0] += weight
            m[1] += weight * c.kpi_value
            m[2] += weight * c.expected
    by_dim: dict[str, list[tuple[str, float, float, float]]] = {}
    for (dim, value), (w, wv, we) in merged.items():
        if w <= 0:
            continue
        contribution = sign * (wv - we)
        v, e = (wv, we) if kind == "count" else (wv / w, we / w)
        by_dim.setdefault(dim, []).append((value, contribution, v, e))
    ranked: list[Contributor] = []
    for dim, items in by_dim.items():
        total = sum(part for _, part, _, _ in items if part > 0)
        if total <= 0:
            continue
        for value, part, v, e in items:
            share = part / total
            if part > 0 and share >= min_share:
                ranked.append(
                    Contributor(dimension=dim, value=value, kpi_value=v, expected=e, share=share)  # type: ignore[arg-type]
                )
    ranked.sort(key=lambda c: -c.share)
    return ranked[:top]
