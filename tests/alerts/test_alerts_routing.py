"""Routing-tree table tests: a YAML tree literal and rows of labels → expected receivers (Alertmanager's route_test)."""

from __future__ import annotations

import pytest
import yaml

from alerts.routing import build_tree, dry_run
from sqm.config import AlertSettings
from sqm.errors import ConfigError

TREE = """
receivers:
  - {name: default}
  - {name: billing}
  - {name: billing-critical}
  - {name: tech}
  - {name: complaints}
  - {name: managers}
  - {name: east}
group_by: [team, kpi]
group_wait_s: 30
route:
  receiver: default
  routes:
    - matchers: ["complaint_grade=major"]
      receiver: complaints
      escalation: complaint_major
      continue: true
    - match: {team: billing}
      receiver: billing
      group_wait_s: 10
      routes:
        - matchers: ["severity=critical"]
          receiver: billing-critical
          repeat_interval_s: 600
        - matchers: ["kpi=~frt_.*"]
          group_by: [team, channel]
    - match: {team: tech}
      receiver: tech
      continue: true
    - matchers: ["region=east", "severity!=info"]
      receiver: east
    - matchers: ["severity=critical"]
      receiver: managers
"""


def labels(**kw: str) -> dict[str, str]:
    base = {"kpi": "timeout_rate", "window": "60m", "team": "sales", "channel": "chat", "region": "*",
            "severity": "warning", "detector": "swing", "direction": "up"}
    return base | kw


ROWS = [
    # labels, expected receivers (in match order)
    (labels(), ["default"]),
    (labels(team="billing"), ["billing"]),
    (labels(team="billing", severity="critical"), ["billing-critical"]),
    (labels(team="billing", kpi="frt_avg_s"), ["billing"]),
    (labels(team="tech"), ["tech"]),  # continue, but nothing after it matches
    (labels(team="tech", region="east"), ["tech", "east"]),
    (labels(team="tech", region="east", severity="info"), ["tech"]),
    (labels(team="sales", severity="critical"), ["managers"]),
    (labels(team="sales", region="east", severity="critical"), ["east"]),  # first match stops
    (labels(team="billing", kpi="complaint_timely_rate", complaint_grade="major"), ["complaints", "billing"]),
    (labels(team="sales", kpi="complaint_rate", complaint_grade="general"), ["default"]),
]


@pytest.fixture(scope="module")
def settings() -> AlertSettings:
    return AlertSettings.model_validate(yaml.safe_load(TREE))


@pytest.mark.parametrize(("given", "expected"), ROWS)
def test_receivers(settings: AlertSettings, given: dict[str, str], expected: list[str]) -> None:
    assert [m.receiver for m in build_tree(settings).match(given)] == expected


def test_children_inherit_group_settings_and_escalation(settings: AlertSettings) -> None:
    tree = build_tree(settings)
    (crit,) = tree.match(labels(team="billing", severity="critical"))
    assert (crit.timing.group_wait_s, crit.timing.repeat_interval_s, crit.timing.group_by) == (10, 600, ("team", "kpi"))
    (frt,) = tree.match(labels(team="billing", kpi="frt_p90_s"))
    assert frt.timing.group_by == ("team", "channel") and frt.timing.group_wait_s == 10
    (default,) = tree.match(labels())
    assert (default.timing.group_wait_s, default.timing.repeat_interval_s) == (30, 4 * 3600)
    major = tree.match(labels(team="billing", kpi="complaint_rate", complaint_grade="major"))
    assert [m.escalation for m in major] == ["complaint_major", None]


def test_group_keys_follow_group_by(settings: AlertSettings) -> None:
    tree = build_tree(settings)
    a = tree.match(labels(team="billing", kpi="frt_avg_s", channel="chat"))[0]
    b = tree.match(labels(team="billing", kpi="frt_p90_s", channel="chat"))[0]
    c = tree.match(labels(team="billing", kpi="frt_p90_s", channel="phone"))[0]
    assert a.group_key(labels(team="billing", kpi="frt_avg_s", channel="chat")) == \
        b.group_key(labels(team="billing", kpi="frt_p90_s", channel="chat"))
    assert b.group_key(labels(team="billing", kpi="frt_p90_s", channel="chat")) != \
        c.group_key(labels(team="billing", kpi="frt_p90_s", channel="phone"))


def test_dry_run_lists_receivers_with_their_settings(settings: AlertSettings) -> None:
    out = dry_run(settings, labels(team="tech", region="east"))
    assert [(r["receiver"], r["group_wait_s"]) for r in out] == [("tech", 30), ("east", 30)]
    assert out[0]["group_key"] == "0.2|tech|team=tech,kpi=timeout_rate"


@pytest.mark.parametrize(("bad", "needle"), [
    ({"route": {"receiver": "nobody"}}, "alerts.route.receiver: unknown receiver 'nobody'"),
    ({"route": {"receiver": "console", "routes": [{"receiver": "x"}]}}, "alerts.route.routes[0].receiver"),
    ({"route": {"receiver": "console", "matchers": ["team billing"]}}, "matcher 'team billing'"),
    ({"route": {"receiver": "console", "matchers": ["kpi=~("]}}, "bad regular expression"),
    ({"route": {"receiver": "console", "escalation": "nope"}}, "unknown policy 'nope'"),
    ({"timezone": "Mars/Olympus"}, "unknown time zone"),
    ({"receivers": [{"name": "console", "failover": "mail"}]}, "failover: unknown receiver 'mail'"),
    ({"ack_path": "/ack"}, "alerts.ack_path: must contain {token}"),
    ({"roster": {"shifts": [{"name": "day", "roles": {"supervisor": "Nobody"}}]}}, "unknown person 'Nobody'"),
    ({"receivers": [{"name": "console", "quiet_hours": [{"start": "25:00"}]}]}, "quiet_hours.0.start"),
])
def test_bad_trees_are_refused_naming_the_key(tmp_path, bad, needle) -> None:
    from sqm.config import load_settings

    path = tmp_path / "sqm.yaml"
    path.write_text(yaml.safe_dump({"alerts": bad}))
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    assert needle in str(err.value)
