"""Trend charts of a report as PNG bytes, with the target as a dashed line.

matplotlib's object API (``Figure``, no pyplot): no backend to choose, no global figure list, safe in the
alerter's and the API's threads."""

from __future__ import annotations

import io
from datetime import datetime

import matplotlib
import matplotlib.dates as mdates
from matplotlib.figure import Figure

from sqm.models import KPIS

FONTS = ["Noto Sans CJK SC", "Noto Sans CJK JP", "DejaVu Sans"]
"""The first that is installed draws the labels (zh needs a CJK font: Debian's fonts-noto-cjk)."""
ACCENT, TARGET = "#2563eb", "#dc2626"


def trend_png(kpi: str, points: list[tuple[datetime, float | None]], target: float | None, language: str,
              *, hourly: bool = False) -> bytes:
    """One KPI's trend; rates drawn in percent."""
    info = KPIS[kpi]
    scale = 100.0 if info.unit == "ratio" else 1.0
    xs = [t.replace(tzinfo=None) for t, v in points if v is not None]  # site-local wall times, drawn as they read
    ys = [v * scale for _, v in points if v is not None]
    with matplotlib.rc_context({"font.family": FONTS, "font.size": 9, "axes.spines.top": False,
                                "axes.spines.right": False}):
        fig = Figure(figsize=(4.6, 2.2), dpi=110)
        ax = fig.subplots()
        ax.plot(mdates.date2num(xs), ys, color=ACCENT, linewidth=1.6, marker="o" if len(xs) < 40 else None, markersize=2.5)
        if target is not None:
            ax.axhline(target * scale, color=TARGET, linestyle="--", linewidth=1)
        title = info.zh if language == "zh" else info.en
        ax.set_title(title + (" (%)" if scale == 100 else ""), loc="left", fontsize=10)
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M" if hourly else "%m-%d"))
        ax.tick_params(axis="x", labelrotation=0, labelsize=7)
        ax.grid(axis="y", color="#e5e7eb", linewidth=0.6)
        fig.autofmt_xdate(rotation=0, ha="center")
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        return buf.getvalue()
