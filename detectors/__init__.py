"""Online anomaly detection for sqm's KPI series (docs/detectors.md).

Pure: imports only the ``sqm`` core and River, does no I/O. The dataflow calls
:func:`build_monitor` once per series and ``monitor.update(snapshot, children)``
for each final snapshot of that series.
"""

from detectors.base import Detector, Evidence, observation
from detectors.cusum import RateCusum
from detectors.decision import IncidentRule
from detectors.monitor import KpiMonitor, KpiRule, build_monitor
from detectors.seasonal import SeasonalBaseline
from detectors.sla import TargetRule
from detectors.swing import SwingDetector

__all__ = [
    "Detector",
    "Evidence",
    "IncidentRule",
    "KpiMonitor",
    "KpiRule",
    "RateCusum",
    "SeasonalBaseline",
    "SwingDetector",
    "TargetRule",
    "build_monitor",
    "observation",
]
