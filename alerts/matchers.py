"""Label matchers as Alertmanager writes them: ``team=billing``, ``severity!=info``, ``kpi=~frt_.*``, ``kpi!~nps``.

Used by routes, silences and inhibition rules. Regular expressions are anchored.

>>> m = parse("kpi=~frt_.*")
>>> m.matches({"kpi": "frt_avg_s"}), m.matches({"kpi": "csat"})
(True, False)
>>> matches_all([parse("team=billing"), parse("severity!=info")], {"team": "billing", "severity": "critical"})
True
>>> parse("team billing")
Traceback (most recent call last):
...
ValueError: matcher 'team billing' is not of the form label=value, label!=value, label=~regex or label!~regex
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

_FORM = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$")


@dataclass(frozen=True, slots=True)
class Matcher:
    name: str
    op: str
    value: str

    def matches(self, labels: Mapping[str, str]) -> bool:
        got = labels.get(self.name, "")
        if self.op == "=":
            return got == self.value
        if self.op == "!=":
            return got != self.value
        hit = _regex(self.value).fullmatch(got) is not None
        return hit if self.op == "=~" else not hit

    def __str__(self) -> str:
        return f"{self.name}{self.op}{self.value}"


@lru_cache(maxsize=1024)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


@lru_cache(maxsize=4096)
def parse(text: str) -> Matcher:
    found = _FORM.match(text)
    if not found:
        msg = f"matcher {text!r} is not of the form label=value, label!=value, label=~regex or label!~regex"
        raise ValueError(msg)
    name, op, value = found.groups()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    if op in ("=~", "!~"):
        try:
            _regex(value)
        except re.error as err:
            msg = f"matcher {text!r}: bad regular expression: {err}"
            raise ValueError(msg) from err
    return Matcher(name, op, value)


def parse_all(texts: Iterable[str], exact: Mapping[str, str] | None = None) -> tuple[Matcher, ...]:
    """Matchers from strings, plus ``label: value`` pairs of an exact ``match`` mapping."""
    out = [Matcher(k, "=", v) for k, v in (exact or {}).items()]
    out.extend(parse(t) for t in texts)
    return tuple(out)


def matches_all(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)
