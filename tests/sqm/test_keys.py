"""Every Redis key has one home (sqm/keys.py) and docs/architecture.md lists exactly those keys."""

from __future__ import annotations

import re
from pathlib import Path

from sqm import keys

ROOT = Path(__file__).resolve().parents[2]


def documented_rows() -> list[tuple[str, str, str, str]]:
    text = (ROOT / "docs/architecture.md").read_text(encoding="utf-8")
    section = text.split("## Redis key layout", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        rows.append((cells[0].strip("`"), cells[1], cells[2], cells[3]))
    return rows


def as_regex(pattern: str) -> re.Pattern[str]:
    parts = re.split(r"<[a-z]+>", pattern)
    return re.compile("^" + ".+".join(re.escape(p) for p in parts) + "$")


def test_the_docs_key_table_is_the_layout():
    assert documented_rows() == [(k.pattern, k.type, k.writer, k.holds) for k in keys.LAYOUT]


def test_every_key_the_module_builds_matches_one_documented_pattern():
    built = [keys.events_stream(3), keys.DLQ, keys.DLQ_POSITIONS, keys.webhook_once("zendesk", "t1:created"),
             keys.kpi_latest("1m"), keys.kpi_history("1m|billing|*|*"), keys.KPI_LIVE, keys.FLOW_STATS,
             keys.ANOMALIES, keys.anomaly_seen("fp", "2026-03-02T09:00:00+00:00", "firing"), keys.alert("fp"),
             keys.ALERT_INDEX, keys.ALERT_ACTIVE, keys.ALERT_TIMERS, keys.ALERT_ESCALATIONS, keys.alert_group("g"),
             keys.alert_group_members("g"), keys.ALERT_GROUPS, keys.OUTBOX, keys.OUTBOX_DUE, keys.OUTBOX_DONE,
             keys.DELIVERIES, keys.SILENCES, keys.bot_bucket("c"), keys.EXPERIMENTS, keys.ACTIONS,
             keys.REPORTS_SENT, keys.reminded("a1", 3), keys.kpi_aggregates("1d|billing|*|*"),
             keys.INGEST_SEEN, keys.ingest_count(29527200), keys.HEARTBEAT_MODEL, keys.HEARTBEAT_STATE,
             keys.HEARTBEAT_ALERTERS, keys.HEARTBEAT_ROUND, keys.HEARTBEAT_WATCHDOG]
    patterns = [as_regex(k.pattern) for k in keys.LAYOUT]
    unmatched = [key for key in built if sum(bool(p.match(key)) for p in patterns) == 0]
    assert not unmatched
    public = {n for n, v in vars(keys).items() if not n.startswith("_")
              and (isinstance(v, str) or getattr(v, "__module__", None) == keys.__name__)}
    builders = public - {"KeyDoc", "partition_for", "dims_field", "short_hash", "PREFIX", "ALERTER_GROUP",
                           "INGEST_COUNT_TTL_S"}
    assert len(builders) == len(built), sorted(builders)


def test_no_module_spells_a_key_of_its_own():
    spelled = re.compile(r"""["'{]sqm:[a-z]""")
    offenders = []
    for package in ("sqm", "sim", "streams", "detectors", "alerts", "api", "sqm_cli"):
        for path in (ROOT / package).rglob("*.py"):
            if path == ROOT / "sqm/keys.py":
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                code = line.split("#", 1)[0]
                if spelled.search(code) and '"""' not in code and "``" not in code:
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders
