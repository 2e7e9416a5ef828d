"""Label matchers as Alertmanager writes them: ``team=billing``, ``severity!=info``, ``kpi=~frt_.*``, ``kpi!~nps``.

Used by routes, silences and inhibition rules (``alerts/``), and by the settings to validate them. Regular expressions are anchored and run on RE2
(``google-re2``), whose time is linear in the input: no pattern can hang the alerter, and
``team=~(a+)+b`` against a long label is as quick as any other. What RE2 cannot compile
(backreferences, look-arounds, patterns longer than ``MAX_PATTERN``) is refused when the matcher
is parsed, with a ``ValueError`` naming the matcher; the API answers that with 422.

>>> m = parse("kpi=~frt_.*")
>>> m.matches({"kpi": "frt_avg_s"}), m.matches({"kpi": "csat"})
(True, False)
>>> matches_all([parse("team=billing"), parse("severity!=info")], {"team": "billing", "severity": "critical"})
True
>>> parse("team billing")
Traceback (most recent call last):
...
ValueError: matcher 'team billing' is not of the form label=value, label!=value, label=~regex or label!~regex
>>> parse("kpi=~(?!csat).*")
Traceback (most recent call last):
...
ValueError: matcher 'kpi=~(?!csat).*': bad regular expression: invalid perl operator: (?!
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import re2

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


MAX_PATTERN = 1000
"""Characters of a regular expression a matcher may have."""

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # a refused pattern is reported by the ValueError, not on stderr
_OPTIONS.max_mem = 8 << 20  # bytes of one compiled pattern (RE2 refuses a larger one)


@lru_cache(maxsize=1024)
def _regex(pattern: str) -> Any:
    """The compiled RE2 pattern (raises ValueError for what RE2 cannot compile, or a pattern too long)."""
    if len(pattern) > MAX_PATTERN:
        msg = f"longer than {MAX_PATTERN} characters ({len(pattern)})"
        raise ValueError(msg)
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as err:
        detail = err.args[0].decode(errors="replace") if err.args and isinstance(err.args[0], bytes) else str(err)
        raise ValueError(detail) from err


@lru_cache(maxsize=4096)
def parse(text: str) -> Matcher:
    if len(text) > MAX_PATTERN + 100:
        msg = f"matcher {text[:40]!r}…: longer than {MAX_PATTERN + 100} characters ({len(text)})"
        raise ValueError(msg)
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
        except ValueError as err:
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
