"""The one validated settings object, ``Settings``, read once by ``load_settings``.

Sources, highest priority first: keyword arguments, ``SQM_*`` environment variables
(nested with ``__``: ``SQM_STREAMS__PARTITIONS=8``), a secrets directory
(``SQM_SECRETS_DIR``, one file per variable), the YAML file (``sqm.yaml`` or
``SQM_CONFIG``), then the defaults, which carry the customer's service standards.
Nothing else in sqm reads ``os.environ``. ``REDIS_URL`` and
``INFLUX_URL``/``INFLUX_TOKEN``/``INFLUX_ORG``/``INFLUX_BUCKET`` are also read under
those plain names.

One module per part of the file: ``center`` (teams, channels, targets),
``dataflow`` (streams, detectors, influx), ``alerting`` (alerts), ``web`` (api),
``improve`` (experiments, actions, reports, long history), ``text`` (text signals), ``production`` (what production refuses),
``settings`` (the whole and its sources).
"""

from sqm.config.alerting import (
    AlertSettings,
    EscalationLevel,
    EscalationPolicy,
    HeartbeatSettings,
    InhibitRule,
    Person,
    QuietHours,
    Receiver,
    Roster,
    Route,
    Shift,
)
from sqm.config.center import Channel, Targets, Team
from sqm.config.dataflow import DetectorSettings, InfluxSettings, StreamSettings
from sqm.config.production import PRODUCTION_RULES, production_problems
from sqm.config.settings import DEFAULT_CONFIG_FILE, Settings, load_settings
from sqm.config.text import TextSettings
from sqm.config.web import ApiKey, ApiSettings, WebhookSource

__all__ = [
    "DEFAULT_CONFIG_FILE",
    "PRODUCTION_RULES",
    "AlertSettings",
    "HeartbeatSettings",
    "ApiKey",
    "ApiSettings",
    "Channel",
    "DetectorSettings",
    "EscalationLevel",
    "EscalationPolicy",
    "InfluxSettings",
    "InhibitRule",
    "Person",
    "QuietHours",
    "Receiver",
    "Roster",
    "Route",
    "Settings",
    "Shift",
    "StreamSettings",
    "Targets",
    "Team",
    "TextSettings",
    "WebhookSource",
    "load_settings",
    "production_problems",
]
