"""docs/events.md states the data contract the code enforces: its tables are checked against sqm.models."""

from __future__ import annotations

import re
from typing import Any

import pytest

from sqm.errors import InvalidEvent
from sqm.models import EVENT_TYPES, KPI_NAMES, ServiceEvent, event_from_dict

# a valid value of every type-specific field (a score of 1 fits both CSAT and NPS)
TYPED_VALUES: dict[str, Any] = {"by": "agent", "first_contact": True, "handle_s": 30.0, "to_team": "tech", "score": 1,
                                "severity": "general", "response_s": 12.0, "wait_s": 12.0, "author": "customer"}


def _rows(doc: str, heading: str) -> list[list[str]]:
    """The cells of every row of the first table whose header starts with ``| heading |``."""
    lines = doc.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {heading} |"))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def _names(cell: str) -> list[str]:
    return re.findall(r"`([a-z0-9_.]+)`", cell)


@pytest.fixture
def doc(repo_root) -> str:
    return (repo_root / "docs" / "events.md").read_text(encoding="utf-8")


def _accepts(kind: str, **fields: Any) -> bool:
    event = {"event_id": "e1", "type": kind, "ts": "2026-03-02T09:00:00+08:00", "contact_id": "c1",
             "team": "billing", "channel": "chat", **fields}
    try:
        event_from_dict(event)
    except InvalidEvent:
        return False
    return True


def test_the_field_tables_name_every_field_of_service_event(doc):
    common = [_names(row[0])[0] for row in _rows(doc, "field")]
    typed = {name for row in _rows(doc, "type") for name in _names(row[2]) if name in TYPED_VALUES}
    assert set(common) | typed == set(ServiceEvent.__struct_fields__)
    assert not set(common) & typed
    required = [_names(row[0])[0] for row in _rows(doc, "field") if row[2] == "yes"]
    assert required == ["event_id", "type", "ts", "contact_id", "team", "channel"]
    minimal = {"event_id": "e1", "type": "contact.created", "ts": "2026-03-02T09:00:00+08:00", "contact_id": "c1",
               "team": "billing", "channel": "chat"}
    for name in required:
        with pytest.raises(InvalidEvent, match=name):
            event_from_dict({k: v for k, v in minimal.items() if k != name})


def test_the_type_table_says_which_fields_each_type_takes_and_requires(doc):
    rows = _rows(doc, "type")
    assert [_names(row[0])[0] for row in rows] == list(EVENT_TYPES)
    for row in rows:
        kind = _names(row[0])[0]
        listed = {name for name in _names(row[2]) if name in TYPED_VALUES}
        required = {name for name in listed if f"`{name}` (required" in row[2]}
        base = {"text": "我要投诉", **{name: TYPED_VALUES[name] for name in required}}  # text: any event may carry it
        takes = {name for name, value in TYPED_VALUES.items() if _accepts(kind, **{**base, name: value})}
        assert takes == listed, kind
        needs = {name for name in listed if not _accepts(kind, **{k: v for k, v in base.items() if k != name})}
        assert needs == required, kind


def test_a_message_needs_its_text_and_text_is_bounded(doc):
    assert "`text` (required" in next(row[2] for row in _rows(doc, "type") if _names(row[0])[0] == "contact.message")
    assert not _accepts("contact.message", author="customer")
    assert _accepts("contact.message", author="customer", text="x" * 4000)
    assert not _accepts("contact.message", author="customer", text="x" * 4001)
    assert _accepts("survey.csat", score=2, text="还是没解决") and _accepts("contact.created", text="您好")
    assert not _accepts("contact.created", text="hi", author="customer"), "author belongs to messages"


def test_the_kpi_table_names_every_kpi_in_order(doc):
    names = [name for row in _rows(doc, "name") for name in _names(row[0])]
    assert names == list(KPI_NAMES)
