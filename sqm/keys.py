"""Every Redis key sqm reads or writes, in one place; docs/architecture.md's key table is ``LAYOUT``.

Keys that belong to one partition carry a hash tag (``{3}``) so that a Redis
Cluster keeps each partition's keys on one node. In a pattern, ``<name>`` is a part
filled in at run time; braces are literal (a hash tag).
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class KeyDoc:
    """One row of the key table: the key's pattern, its Redis type, who writes it and what it holds."""

    pattern: str
    type: str
    writer: str
    holds: str


LAYOUT: list[KeyDoc] = []


def _doc(pattern: str, type_: str, writer: str, holds: str) -> str:
    LAYOUT.append(KeyDoc(pattern, type_, writer, holds))
    return pattern


PREFIX = "sqm"
EVENTS_PER_ENTRY = 100
"""Producers batch up to this many events into one stream entry."""

# --- events and dead letters ---------------------------------------------------------

_doc("sqm:events:{<p>}", "stream", "producers",
     "field `e`: one event or a JSON array of events; trimmed by the flow behind what recovery needs")


def events_stream(partition: int) -> str:
    """Stream of one partition of ServiceEvents: ``sqm:events:{3}``.

    Each entry has one field ``e`` holding a JSON object (one event) or a JSON
    array of events; producers batch up to ``EVENTS_PER_ENTRY`` events an entry.

    >>> events_stream(3)
    'sqm:events:{3}'
    """
    return f"{PREFIX}:events:{{{partition}}}"


def partition_for(team: str, partitions: int) -> int:
    """The partition of a team: stable across processes and restarts (CRC-32).

    >>> partition_for("billing", 4), partition_for("billing", 4) == partition_for("billing", 4)
    (2, True)
    """
    return zlib.crc32(team.encode()) % partitions


DLQ = _doc("sqm:dlq", "stream", "flow, api, `sqm replay`",
           "rejected records: `reason`, `field`, `source`, `raw` (one format: `sqm.eventlog.dead_letter`); "
           "capped at ~100,000")
DLQ_POSITIONS = _doc("{sqm:dlq}:pos", "hash", "flow",
                     "per event stream, the position (`entry-id/ordinal`) of its last dead letter: an entry re-read "
                     "after a restart is not dead-lettered twice; `replayed` counts letters skipped so")


def webhook_once(source: str, key: str) -> str:
    """Marker of a once-only webhook event (e.g. a conversation's first reply) already sent.

    >>> webhook_once("chatwoot", "c1:first_response")
    'sqm:webhook:once:chatwoot:c1:first_response'
    """
    return f"{PREFIX}:webhook:once:{source}:{key}"


_doc("sqm:webhook:once:<source>:<key>", "string, TTL", "api",
     "a once-only webhook event (a conversation's first reply) already sent")

# --- KPIs and the flow ---------------------------------------------------------------


def kpi_latest(window: str) -> str:
    """Hash ``dims -> KpiSnapshot JSON`` of the latest snapshot per dimension, dims = ``team|channel|region``.

    >>> kpi_latest("1m")
    'sqm:kpi:latest:1m'
    """
    return f"{PREFIX}:kpi:latest:{window}"


_doc("sqm:kpi:latest:<window>", "hash", "flow", "`team|channel|region` → latest KpiSnapshot JSON (provisional or final)")


def kpi_history(series: str) -> str:
    """Sorted set of one series' snapshots (score = window start, epoch seconds); trimmed by age.

    >>> kpi_history("1m|billing|*|*")
    'sqm:kpi:hist:1m|billing|*|*'
    """
    return f"{PREFIX}:kpi:hist:{series}"


_doc("sqm:kpi:hist:<series>", "sorted set", "flow",
     "final snapshots, score = window start (epoch s); trimmed to `streams.history_hours`")


def kpi_aggregates(series: str) -> str:
    """Sorted set of one series' hourly or daily aggregates (score = start, epoch seconds); trimmed by age.

    >>> kpi_aggregates("1d|billing|*|*")
    'sqm:kpi:agg:1d|billing|*|*'
    """
    return f"{PREFIX}:kpi:agg:{series}"


_doc("sqm:kpi:agg:<grain>|<team>|<channel>|<region>", "sorted set", "flow",
     "`KpiAggregate` of each hour (`1h`) or site-local day (`1d`), score = start; kept `improve.hour_days` / "
     "`improve.day_days`")


def dims_field(team: str, channel: str, region: str) -> str:
    """The field of one dimension in ``kpi_latest``.

    >>> dims_field("billing", "*", "*")
    'billing|*|*'
    """
    return f"{team}|{channel}|{region}"


KPI_LIVE = _doc("sqm:kpi:live", "pub/sub", "flow", "one message per closed minute: JSON list of the snapshots written")
FLOW_STATS = _doc("sqm:flow:stats", "hash", "flow",
                  "counters: events, duplicate, late, invalid, late_merge, series, closed_until, influx_*")
ANOMALIES = _doc("sqm:anomalies", "stream", "flow", "field `a`: Anomaly JSON; read by the consumer group `sqm-alerter`")
_ANOMALY_SEEN = "{sqm:anomalies}:seen:"
_doc("{sqm:anomalies}:seen:<fingerprint>|<end>|<status>", "string, TTL", "flow",
     "an anomaly already written: a replayed one is a no-op (7 days)")


def anomaly_seen(fingerprint: str, end: str, status: str) -> str:
    """Marker of one anomaly sighting written to ``ANOMALIES``.

    >>> anomaly_seen("fp", "2026-03-02T09:00:00+00:00", "firing")
    '{sqm:anomalies}:seen:fp|2026-03-02T09:00:00+00:00|firing'
    """
    return f"{_ANOMALY_SEEN}{fingerprint}|{end}|{status}"


# --- the alert engine ----------------------------------------------------------------

ALERTER_GROUP = "sqm-alerter"
"""Consumer group of the alerters on ``ANOMALIES``: a restart resumes, two alerters share the work."""
_ALERT = f"{PREFIX}:alert"


def alert(fingerprint: str) -> str:
    """One ``Alert`` (JSON) per fingerprint.

    >>> alert("abc")
    'sqm:alert:a:abc'
    """
    return f"{_ALERT}:a:{fingerprint}"


_doc("sqm:alert:a:<fp>", "string", "alerter, api", "one `Alert` (JSON) per fingerprint")
ALERT_INDEX = _doc("sqm:alert:index", "sorted set", "alerter", "fingerprints by last update (epoch s)")
ALERT_ACTIVE = _doc("sqm:alert:active", "set", "alerter", "fingerprints of the alerts not resolved")
ALERT_TIMERS = _doc("sqm:alert:timers", "sorted set", "alerter, api",
                    "fingerprint → when its pending/held/acknowledged state is due")
ALERT_ESCALATIONS = _doc("sqm:alert:escalations", "sorted set", "alerter, api",
                         "fingerprint → when its next escalation level is due")


def alert_group(group_key: str) -> str:
    """A notification group's state (JSON).

    >>> alert_group("g1"), alert_group_members("g1")
    ('sqm:alert:g:g1', 'sqm:alert:g:g1:m')
    """
    return f"{_ALERT}:g:{group_key}"


def alert_group_members(group_key: str) -> str:
    """The fingerprints in one notification group."""
    return f"{_ALERT}:g:{group_key}:m"


_doc("sqm:alert:g:<group>", "string", "alerter", "a notification group's state (JSON)")
_doc("sqm:alert:g:<group>:m", "set", "alerter", "the fingerprints in that group")
ALERT_GROUPS = _doc("sqm:alert:groups", "sorted set", "alerter", "group key → when the group is next flushed")
OUTBOX = _doc("sqm:alert:outbox", "hash", "alerter", "notification id → `Notification` (JSON)")
OUTBOX_DUE = _doc("sqm:alert:outbox:due", "sorted set", "alerter",
                  "notification id → when it is (re)tried; a claim pushes it by the lease")
OUTBOX_DONE = _doc("sqm:alert:outbox:done", "sorted set", "alerter", "notification id → when it finished (trimmed)")
DELIVERIES = _doc("sqm:alert:deliveries", "stream", "alerter", "one entry per delivery attempt (capped)")
SILENCES = _doc("sqm:alert:silences", "hash", "api, alerter", "silence id → `Silence` (JSON)")


def bot_bucket(channel_id: str) -> str:
    """Token bucket of one bot key, shared by every alerter.

    >>> bot_bucket("c1")
    'sqm:alert:bucket:c1'
    """
    return f"{_ALERT}:bucket:{channel_id}"


_doc("sqm:alert:bucket:<channel>", "hash", "alerter", "token bucket of one bot key (shared by every alerter)")


# --- heartbeats: nobody watching ----------------------------------------------------

INGEST_SEEN = _doc("sqm:ingest:seen", "hash", "producers",
                   "`source:<name>` / `team:<name>` → epoch s (wall clock) of its latest append")
INGEST_COUNT_TTL_S = 3 * 3600


def ingest_count(minute: int) -> str:
    """Arrivals (appends) per source and team in one wall-clock minute (epoch s // 60).

    >>> ingest_count(29527200)
    'sqm:ingest:count:29527200'
    """
    return f"{PREFIX}:ingest:count:{minute}"


_doc("sqm:ingest:count:<minute>", "hash, TTL", "producers",
     "`source:<name>` / `team:<name>` → appends in that wall-clock minute (epoch s // 60); kept 3 h")
HEARTBEAT_MODEL = _doc("sqm:heartbeat:model", "hash", "alerter",
                       "series (`source:<name>`, `team:<name>`) → its seasonal arrival rate (JSON); `_cursor`: the "
                       "last minute learned")
HEARTBEAT_STATE = _doc("sqm:heartbeat:state", "hash", "alerter", "check → its open heartbeat alarm (JSON)")
HEARTBEAT_ALERTERS = _doc("sqm:heartbeat:alerters", "hash", "alerter",
                          "consumer → epoch s of its latest round; removed when it stops cleanly")
HEARTBEAT_ROUND = _doc("sqm:heartbeat:round", "string, TTL", "alerter",
                       "the alerter that runs this minute's heartbeat round (a lock)")
HEARTBEAT_WATCHDOG = _doc("sqm:heartbeat:watchdog", "string", "api",
                          "the dead-alerter alarm the API's watchdog sent (JSON), until an alerter beats again")


# --- the improvement loop ------------------------------------------------------------

EXPERIMENTS = _doc("sqm:improve:experiments", "hash", "api", "experiment id → `Experiment` (JSON)")
ACTIONS = _doc("sqm:improve:actions", "hash", "api, alerter", "action id → improvement `Action` (JSON) with its history")
REPORTS_SENT = _doc("sqm:improve:reports", "hash", "alerter",
                    "scheduled report (`period|team|at`) → the last period sent (`2026-W48`)")
_doc("sqm:improve:reminded:<action>:<slot>", "string, TTL", "alerter",
     "an overdue action already reminded in this slot (`improve.reminder_every_h`)")


def reminded(action_id: str, slot: int) -> str:
    """Marker of one overdue reminder.

    >>> reminded("a1", 20517)
    'sqm:improve:reminded:a1:20517'
    """
    return f"{PREFIX}:improve:reminded:{action_id}:{slot}"


def short_hash(*parts: str, size: int = 16) -> str:
    """A stable short id of some strings, for key parts (notification ids, channel ids).

    >>> short_hash("a", "b") == short_hash("a", "b") != short_hash("ab")
    True
    """
    return hashlib.sha1("\x1f".join(parts).encode(), usedforsecurity=False).hexdigest()[:size]
