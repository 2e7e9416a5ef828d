"""A mergeable, subtractable quantile sketch (the DDSketch idea, log-spaced bins).

A value ``x > 0`` falls in bin ``ceil(log(x) / log(gamma))`` with
``gamma = (1 + alpha) / (1 - alpha)``; a bin reports ``2 * gamma**k / (gamma + 1)``,
which is within ``alpha`` (relative) of every value in it. Values ``<= MIN_VALUE``
share one zero bin. The sketch is a plain ``dict[int, int]`` of bin counts, so
buckets merge by adding counts and a rolling window subtracts the minute that
leaves it — exactly, without the raw values.

>>> s = {}
>>> for v in (1.0, 2.0, 3.0, 40.0, 50.0):
...     add(s, v)
>>> round(quantile(s, 0.5), 3), round(quantile(s, 0.9), 3)
(2.974, 40.048)
>>> t = merged(s, s); count(t)
10
>>> subtract(t, s); t == s
True
"""

from __future__ import annotations

import math

ALPHA = 0.01
"""Relative accuracy of a reported quantile."""
GAMMA = (1 + ALPHA) / (1 - ALPHA)
_LOG_GAMMA = math.log(GAMMA)
MIN_VALUE = 1e-6
ZERO_BIN = -(10**9)

Sketch = dict[int, int]


def bin_of(x: float) -> int:
    """The bin index of a value."""
    if x <= MIN_VALUE:
        return ZERO_BIN
    return math.ceil(math.log(x) / _LOG_GAMMA)


def value_of(k: int) -> float:
    """The value a bin reports."""
    if k == ZERO_BIN:
        return 0.0
    return 2.0 * GAMMA**k / (GAMMA + 1.0)


def add(s: Sketch, x: float) -> None:
    k = ZERO_BIN if x <= MIN_VALUE else math.ceil(math.log(x) / _LOG_GAMMA)  # bin_of(x), inline: once per answer
    s[k] = s.get(k, 0) + 1


def merge(into: Sketch, other: Sketch) -> None:
    for k, c in other.items():
        into[k] = into.get(k, 0) + c


def merged(a: Sketch, b: Sketch) -> Sketch:
    out = dict(a)
    merge(out, b)
    return out


def subtract(into: Sketch, other: Sketch) -> None:
    """Remove ``other``'s counts (which ``into`` must contain)."""
    for k, c in other.items():
        left = into.get(k, 0) - c
        if left:
            into[k] = left
        else:
            into.pop(k, None)


def count(s: Sketch) -> int:
    return sum(s.values())


def quantile(s: Sketch, q: float) -> float | None:
    """The value at rank ``floor(q * (n - 1))`` (0-based, sorted), within ALPHA; None when empty."""
    return quantiles(s, (q,))[0]


def quantiles(s: Sketch, qs: tuple[float, ...]) -> list[float | None]:
    """``quantile`` of each of ``qs`` (ascending), in one pass over the sorted bins.

    >>> s = {}
    >>> for v in range(1, 11):
    ...     add(s, float(v))
    >>> [round(x, 2) for x in quantiles(s, (0.5, 0.9))], quantiles({}, (0.5, 0.9))
    ([5.0, 8.94], [None, None])
    """
    n = sum(s.values())
    if n == 0:
        return [None] * len(qs)
    ranks = [math.floor(q * (n - 1)) for q in qs]
    out: list[float | None] = []
    cum = 0
    for k in sorted(s):
        cum += s[k]
        while cum > ranks[len(out)]:
            out.append(value_of(k))
            if len(out) == len(ranks):
                return out
    return out  # unreachable: cum reaches n > every rank
