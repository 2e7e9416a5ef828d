"""ServiceEvent validation: every bad field is named with its reason; good events round-trip."""

import orjson
import pytest

from sqm.errors import InvalidEvent
from sqm.models import EVENT_TYPES, KPIS, decode_event, decode_events, encode, event_from_dict

BASE = {
    "event_id": "e-1",
    "type": "contact.created",
    "ts": "2026-03-02T09:15:00+08:00",
    "contact_id": "c-1",
    "team": "billing",
    "channel": "chat",
}
TYPED = {
    "contact.first_response": {"by": "agent", "response_s": 12.5, "wait_s": 12.5},
    "contact.resolved": {"first_contact": True, "handle_s": 300},
    "contact.abandoned": {"wait_s": 40},
    "contact.transferred": {"to_team": "tech"},
    "survey.csat": {"score": 4},
    "survey.nps": {"score": 9},
    "complaint.opened": {"severity": "major"},
    "contact.message": {"author": "customer", "text": "等了半小时没人回复"},
    "complaint.responded": {"response_s": 600},
}


def event(**changes):
    return orjson.dumps({**BASE, **changes})


@pytest.mark.parametrize("kind", EVENT_TYPES)
def test_every_type_validates_and_round_trips(kind):
    ev = decode_event(event(type=kind, **TYPED.get(kind, {})))
    assert ev.type == kind
    assert decode_event(encode(ev)) == ev


BAD = [
    ({"event_id": ""}, "event_id", "length >= 1"),
    ({"event_id": 5}, "event_id", "Expected `str`"),
    ({"type": "contact.exploded"}, "type", "Invalid enum value 'contact.exploded'"),
    ({"ts": "2026-03-02T09:15:00"}, "ts", "timezone"),
    ({"ts": "yesterday"}, "ts", "Invalid RFC3339"),
    ({"contact_id": None}, "contact_id", "Expected `str`"),
    ({"team": ""}, "team", "length >= 1"),
    ({"team": "bill ing"}, "team", "without spaces"),
    ({"channel": "a" * 65}, "channel", "length <= 64"),
    ({"region": "x:y"}, "region", "without spaces"),
    ({"text": "x" * 4001}, "text", "length <= 4000"),
    ({"colour": "red"}, "colour", "unknown field"),
    ({"type": "contact.first_response", "by": "robot"}, "by", "Invalid enum value 'robot'"),
    ({"type": "contact.first_response", "response_s": -1}, "response_s", ">= 0"),
    ({"type": "contact.resolved", "first_contact": "yes"}, "first_contact", "Expected `bool"),
    ({"type": "contact.resolved", "handle_s": -3}, "handle_s", ">= 0"),
    ({"type": "contact.transferred"}, "to_team", "required for type 'contact.transferred'"),
    ({"type": "survey.csat"}, "score", "required"),
    ({"type": "survey.csat", "score": 6}, "score", "between 1 and 5"),
    ({"type": "survey.nps", "score": 11}, "score", "between 0 and 10"),
    ({"type": "survey.nps", "score": 9.5}, "score", "Expected `int"),
    ({"type": "complaint.opened"}, "severity", "required"),
    ({"type": "complaint.opened", "severity": "minor"}, "severity", "Invalid enum value 'minor'"),
    ({"score": 3}, "score", "does not apply to type 'contact.created'"),
    ({"wait_s": 3}, "wait_s", "does not apply"),
]


@pytest.mark.parametrize(("changes", "field", "reason"), BAD, ids=[f"{b[1]}:{b[2]}" for b in BAD])
def test_bad_field_is_named_with_its_reason(changes, field, reason):
    with pytest.raises(InvalidEvent) as info:
        decode_event(event(**changes))
    assert info.value.field == field
    assert reason in info.value.reason


@pytest.mark.parametrize("missing", ["event_id", "type", "ts", "contact_id", "team", "channel"])
def test_missing_required_field_is_named(missing):
    body = {k: v for k, v in BASE.items() if k != missing}
    with pytest.raises(InvalidEvent) as info:
        decode_event(orjson.dumps(body))
    assert info.value.field == missing
    assert "missing required field" in info.value.reason


def test_malformed_json_is_a_clear_record_error():
    with pytest.raises(InvalidEvent) as info:
        decode_event(b"{not json")
    assert info.value.field == ""
    assert info.value.reason.startswith("not valid JSON")


def test_batch_error_names_the_index_and_field():
    body = b"[" + event() + b"," + event(type="survey.csat", score=0) + b"]"
    with pytest.raises(InvalidEvent) as info:
        decode_events(body)
    assert info.value.index == 1
    assert info.value.as_dict()["loc"] == ["body", 1, "score"]


def test_single_or_batch_decode_and_dict_validation():
    assert len(decode_events(event())) == 1
    assert len(decode_events(b"[" + event() + b"," + event(event_id="e-2") + b"]")) == 2
    assert event_from_dict({**BASE}).team == "billing"
    with pytest.raises(InvalidEvent, match="channel"):
        event_from_dict({**BASE, "channel": 3})


def test_kpi_metadata_covers_the_design_table():
    assert set(KPIS) == {
        "volume", "frt_avg_s", "frt_p50_s", "frt_p90_s", "service_level", "timeout_rate", "abandon_rate",
        "resolution_rate", "fcr_rate", "aht_s", "csat", "nps", "complaint_rate", "complaint_timely_rate", "backlog",
    }
    assert all(info.zh and info.en for info in KPIS.values())


def test_one_severity_order_least_to_most_severe():
    from sqm.models import SEVERITIES, SEVERITY_RANK, Severity, most_severe

    assert SEVERITIES == Severity.__args__ == ("info", "warning", "critical")
    assert sorted(SEVERITIES, key=SEVERITY_RANK.__getitem__, reverse=True) == ["critical", "warning", "info"]
    assert most_severe(["info", "warning"]) == "warning" and most_severe([], default="warning") == "warning"


def test_no_other_module_writes_its_own_severity_order(repo_root):
    import ast

    found = []
    for path in repo_root.glob("*/**/*.py"):
        if path.parts[len(repo_root.parts)] in {".venv", "tests"} or path == repo_root / "sqm" / "models.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Dict) and len(node.keys) == 3:
                names = {k.value for k in node.keys if isinstance(k, ast.Constant)}
                if names == {"info", "warning", "critical"} and all(
                        isinstance(v, ast.Constant) and isinstance(v.value, int) for v in node.values):
                    found.append(f"{path.relative_to(repo_root)}:{node.lineno}")
    assert found == [], "severity order written again: use sqm.models.SEVERITY_RANK"
