"""The decision layer as tables: persistence, hysteresis, warm-up, merge, severity."""

from __future__ import annotations

import pytest

from detectors.decision import IncidentRule

W, C = "warning", "critical"


def play(rule: IncidentRule, rows):
    events = []
    for t, row in enumerate(rows):
        score, severity, *flags = row if isinstance(row, tuple) else (row, W)
        kw = {"eligible": "low" not in flags, "learning": "learn" in flags}
        events.append(rule.step(float(t), score, severity, **kw))
    return events


@pytest.mark.parametrize(
    ("name", "kwargs", "rows", "expected"),
    [
        ("3 in a row fires on the third", {"k": 3}, [1.2, 1.5, 1.1, 1.3], [None, None, "fire", None]),
        ("a gap restarts the count", {"k": 3}, [1.2, 1.5, 0.3, 1.1, 1.3, 1.2], [None, None, None, None, None, "fire"]),
        ("2 of 3 fires across a gap", {"k": 2, "m": 3}, [1.2, 0.3, 1.1], [None, None, "fire"]),
        ("just below the threshold never fires", {"k": 1}, [0.99] * 5, [None] * 5),
        (
            "hysteresis: between T_lo and T_hi stays firing",
            {"k": 1, "clear_windows": 2},
            [1.5, 0.7, 0.6, 0.8, 0.4, 0.3],
            ["fire", None, None, None, None, "resolve"],
        ),
        (
            "one calm window is not the end",
            {"k": 1, "clear_windows": 2},
            [1.5, 0.2, 1.4, 0.2, 0.1],
            ["fire", None, None, None, "resolve"],
        ),
        (
            "warm-up: no decision while learning",
            {"k": 1},
            [(5.0, W, "learn"), (5.0, W, "learn"), 5.0],
            [None, None, "fire"],
        ),
        ("too little volume never fires", {"k": 1}, [(5.0, W, "low")] * 3, [None] * 3),
        (
            "escalates once when severity rises, not again",
            {"k": 1},
            [(1.5, W), (2.5, C), (2.6, C), (1.5, W)],
            ["fire", "escalate", None, None],
        ),
        (
            "a new incident after the end fires again",
            {"k": 1, "clear_windows": 1},
            [1.5, 0.1, 1.5],
            ["fire", "resolve", "fire"],
        ),
    ],
)
def test_incident_rule(name, kwargs, rows, expected):
    assert play(IncidentRule(**kwargs), rows) == expected, name


def test_incident_start_is_the_first_breach_of_the_run_and_survives_the_end():
    rule = IncidentRule(k=3, clear_windows=1)
    play(rule, [0.1, 1.2, 1.3, 1.4, 1.6])
    assert rule.phase == "firing"
    assert rule.incident_start == 1.0
    assert rule.step(5.0, 0.1, W) == "resolve"
    assert rule.ended == (1.0, W)
    assert rule.incident_start is None


def test_phases():
    rule = IncidentRule(k=2)
    assert rule.phase == "learning"
    rule.step(0.0, 0.0, W, learning=True)
    assert rule.phase == "learning"
    rule.step(1.0, 0.0, W)
    assert rule.phase == "normal"
    rule.step(2.0, 1.5, W)
    assert (rule.phase, rule.suspect) == ("pending", True)
    rule.step(3.0, 1.5, W)
    assert rule.phase == "firing"


def test_drill_down_sums_children_that_share_a_value():
    from detectors.drilldown import Child, rank

    kids = [
        Child("team", "billing", 0.16, 0.10, 400),  # billing/phone/north
        Child("team", "billing", 0.15, 0.10, 300),  # billing/chat/north
        Child("team", "tech", 0.11, 0.10, 600),
    ]
    top = rank(kids, kind="ratio", sign=1.0, top=3)
    assert [(c.value, round(c.share, 3)) for c in top] == [("billing", 0.867), ("tech", 0.133)]
    assert top[0].kpi_value == pytest.approx((0.16 * 400 + 0.15 * 300) / 700)
    assert top[0].expected == pytest.approx(0.10)
