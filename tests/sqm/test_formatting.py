"""The one KPI value formatter: the shared table (also run against the wallboard's JS), changes, bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sqm.formatting import MISSING, format_change, format_quantity, format_value, unit_of
from sqm.models import KPIS

TABLE_PATH = Path(__file__).resolve().parents[1] / "kpi_format_table.json"


def table_rows() -> list[dict[str, Any]]:
    """The rows of tests/kpi_format_table.json: ``kpi``, ``value``, ``lang``, ``expected``, optional ``alongside``."""
    return json.loads(TABLE_PATH.read_text(encoding="utf-8"))["rows"]


@pytest.mark.parametrize("row", table_rows(), ids=lambda r: f"{r['kpi']}={r['value']}/{r['lang']}")
def test_python_formatter_matches_the_shared_table(row):
    got = format_value(row["kpi"], row["value"], row["lang"], alongside=row.get("alongside", ()))
    assert got == row["expected"]


def test_the_table_covers_every_unit_and_both_languages():
    rows = table_rows()
    assert {unit_of(r["kpi"]) for r in rows} == {"count", "seconds", "ratio", "score", "number"}
    for unit in ("count", "seconds", "ratio", "score", "number"):
        assert {r["lang"] for r in rows if unit_of(r["kpi"]) == unit} == {"en", "zh"}, unit
    assert {r["kpi"] for r in rows} - set(KPIS) == {"queue_depth"}  # one KPI without metadata: a plain number


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf"), None])
def test_values_that_are_not_there_read_as_a_dash(value):
    for kpi in ("frt_avg_s", "csat", "nps", "volume"):
        assert format_value(kpi, value) == MISSING


def test_infinite_neighbours_do_not_choose_the_unit():
    assert format_value("frt_avg_s", 95.0, alongside=[float("inf"), float("nan"), None]) == "95 s"


@pytest.mark.parametrize(("kpi", "value", "expected", "lang", "change_pct", "shown"), [
    ("timeout_rate", 0.35, 0.20, "en", None, "+75%"),
    ("csat", 0.81, 0.90, "zh", None, "-10%"),
    ("frt_avg_s", 90.0, 90.0, "en", None, "+0%"),
    ("nps", 30.0, 42.0, "en", None, "-12 pts"),
    ("nps", 47.0, 42.0, "zh", None, "+5分"),
    ("complaint_rate", 0.03, 0.0, "en", 12.4, "+12%"),  # a baseline of 0: the detector's percent
    ("complaint_rate", 0.03, None, "en", None, MISSING),
    ("volume", None, 40.0, "en", -25.5, "-26%"),
])
def test_change_against_the_baseline(kpi, value, expected, lang, change_pct, shown):
    assert format_change(kpi, value, expected, lang, change_pct=change_pct) == shown


@pytest.mark.parametrize(("call", "message"), [
    (lambda: format_value("csat", 0.9, "fr"), r"language 'fr' is not one of en, zh"),
    (lambda: format_value("csat", None, "zh-TW"), r"language 'zh-TW'"),
    (lambda: format_quantity("bytes", 3.0), r"unit 'bytes' is not one of seconds, ratio, score, count, number"),  # type: ignore[arg-type]
    (lambda: format_change("nps", 1.0, 2.0, "de"), r"language 'de'"),
])
def test_bad_input_is_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
