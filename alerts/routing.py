"""The routing tree (Prometheus Alertmanager's ``dispatch/route.go``).

A route matches an alert's labels with its matchers; ``match(labels)`` walks the
tree depth-first and returns every route the alert reaches: the deepest matching
routes, stopping at the first matching child unless that child says ``continue``.
A child inherits the receiver, grouping, timing and escalation its parent has and
it does not set.

>>> from sqm.config import Route
>>> tree = RouteNode.build(Route(receiver="ops", routes=[
...     Route(receiver="billing", match={"team": "billing"}, group_wait_s=5, **{"continue": True}),
...     Route(receiver="critical", matchers=["severity=critical"]),
... ]), defaults=Timing(("team", "kpi"), 30, 300, 14400))
>>> [m.receiver for m in tree.match({"team": "billing", "severity": "critical"})]
['billing', 'critical']
>>> [(m.receiver, m.timing.group_wait_s) for m in tree.match({"team": "tech"})]
[('ops', 30)]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqm.config import AlertSettings, Route
from sqm.matchers import Matcher, matches_all, parse_all


@dataclass(frozen=True, slots=True)
class Timing:
    group_by: tuple[str, ...]
    group_wait_s: float
    group_interval_s: float
    repeat_interval_s: float


@dataclass(frozen=True, slots=True)
class RouteMatch:
    """Where one alert goes through one route."""

    receiver: str
    timing: Timing
    escalation: str | None
    path: str
    """Position in the tree, e.g. ``0.1`` (root's first child's second child): part of the group key."""

    def group_labels(self, labels: Mapping[str, str]) -> dict[str, str]:
        if "..." in self.timing.group_by:
            return dict(sorted(labels.items()))
        return {k: labels.get(k, "") for k in self.timing.group_by}

    def group_key(self, labels: Mapping[str, str]) -> str:
        """The aggregation group the alert joins: route, receiver and the group_by label values."""
        values = ",".join(f"{k}={v}" for k, v in self.group_labels(labels).items())
        return f"{self.path}|{self.receiver}|{values}"


@dataclass(frozen=True)
class RouteNode:
    receiver: str
    matchers: tuple[Matcher, ...]
    cont: bool
    timing: Timing
    escalation: str | None
    path: str
    children: tuple[RouteNode, ...] = field(default=())

    @classmethod
    def build(cls, route: Route, defaults: Timing, *, parent: RouteNode | None = None, path: str = "0") -> RouteNode:
        up_receiver = parent.receiver if parent else ""
        up_timing = parent.timing if parent else defaults
        timing = Timing(
            tuple(route.group_by) if route.group_by is not None else up_timing.group_by,
            route.group_wait_s if route.group_wait_s is not None else up_timing.group_wait_s,
            route.group_interval_s if route.group_interval_s is not None else up_timing.group_interval_s,
            route.repeat_interval_s if route.repeat_interval_s is not None else up_timing.repeat_interval_s,
        )
        node = cls(
            receiver=route.receiver or up_receiver,
            matchers=parse_all(route.matchers, route.match),
            cont=route.continue_,
            timing=timing,
            escalation=route.escalation if route.escalation is not None else (parent.escalation if parent else None),
            path=path,
        )
        kids = tuple(cls.build(r, defaults, parent=node, path=f"{path}.{i}") for i, r in enumerate(route.routes))
        object.__setattr__(node, "children", kids)
        return node

    def match(self, labels: Mapping[str, str]) -> list[RouteMatch]:
        """Every route these labels reach, depth-first (the root always matches)."""
        return self._match(labels, root=True)

    def _match(self, labels: Mapping[str, str], *, root: bool = False) -> list[RouteMatch]:
        if not root and not matches_all(self.matchers, labels):
            return []
        found: list[RouteMatch] = []
        for child in self.children:
            got = child._match(labels)
            found.extend(got)
            if got and not child.cont:
                break
        if not found:
            found.append(RouteMatch(self.receiver, self.timing, self.escalation, self.path))
        return found


def build_tree(settings: AlertSettings) -> RouteNode:
    defaults = Timing(
        tuple(settings.group_by), settings.group_wait_s, settings.group_interval_s, settings.repeat_interval_s
    )
    return RouteNode.build(settings.route, defaults)


def dry_run(settings: AlertSettings, labels: Mapping[str, str]) -> list[dict[str, object]]:
    """Which receivers an alert with these labels would reach, with the settings each route gives it."""
    return [
        {
            "receiver": m.receiver,
            "route": m.path,
            "group_by": list(m.timing.group_by),
            "group_key": m.group_key(labels),
            "group_wait_s": m.timing.group_wait_s,
            "group_interval_s": m.timing.group_interval_s,
            "repeat_interval_s": m.timing.repeat_interval_s,
            "escalation": m.escalation,
        }
        for m in build_tree(settings).match(labels)
    ]


def receivers_for(tree: RouteNode, labels: Mapping[str, str]) -> Sequence[str]:
    seen: dict[str, None] = {}
    for m in tree.match(labels):
        seen.setdefault(m.receiver, None)
    return list(seen)
