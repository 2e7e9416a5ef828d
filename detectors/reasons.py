"""One-line reasons for an anomaly, in English and Simplified Chinese.

>>> firing_reason("timeout_rate", 0.31, 0.22)
('Timeout rate 31% — +41% vs baseline 22%', '超时率 31% — 比基线 22% 高 +41%')
>>> firing_reason("csat", 0.81, 0.9, seasonal=True)[1]
'满意度 81% — 比同时段基线 90% 低 -10%'
>>> resolved_reason("frt_avg_s", 95.0, 90.0, peak=180.0, minutes=52)[0]
'First response (avg) back to 95 s (baseline 90 s) after 52 min; peak 180 s'
"""

from __future__ import annotations

from sqm.models import KPIS, KpiInfo

_FALLBACK = KpiInfo("score", "none", "", "")


def fmt(kpi: str, value: float | None, zh: bool = False) -> str:
    """A KPI value as a person reads it: 31%, 2.4%, 95 s / 95秒, 1,200, 45."""
    if value is None:
        return "—"
    unit = KPIS.get(kpi, _FALLBACK).unit
    if unit == "ratio":
        pct = value * 100
        return f"{pct:.1f}%" if abs(pct) < 10 and round(pct, 1) != round(pct) else f"{pct:.0f}%"
    if unit == "seconds":
        if abs(value) >= 600:
            return f"{value / 60:.0f}分钟" if zh else f"{value / 60:.0f} min"
        return f"{value:.0f}秒" if zh else f"{value:.0f} s"
    if unit == "count":
        return f"{value:,.0f}"
    return f"{value:.1f}" if abs(value) < 10 else f"{value:.0f}"


def _names(kpi: str) -> tuple[str, str]:
    info = KPIS.get(kpi)
    return (info.en, info.zh) if info is not None else (kpi, kpi)


def firing_reason(
    kpi: str, value: float, expected: float | None, *, seasonal: bool = False, what: str = "", span_min: int = 0
) -> tuple[str, str]:
    """``Timeout rate 31% — +41% vs baseline 22%`` / ``超时率 31% — 比基线 22% 高 +41%``.

    ``what`` replaces the comparison for rules without a baseline (e.g. a target);
    ``span_min`` says the value is that of a short window (the last 5 minutes):

    >>> firing_reason("frt_avg_s", 96.0, 60.0, span_min=5)
    ('First response (avg) 96 s in the last 5 min — +60% vs baseline 60 s', '平均首次响应时长 近5分钟 96秒 — 比基线 60秒 高 +60%')
    """
    en_name, zh_name = _names(kpi)
    v_en, v_zh = fmt(kpi, value), fmt(kpi, value, zh=True)
    if span_min:
        v_en, v_zh = f"{v_en} in the last {span_min} min", f"近{span_min}分钟 {v_zh}"
    if what:
        return f"{en_name} {v_en} — {what}", f"{zh_name} {v_zh} — {what}"
    if expected is None:
        return f"{en_name} {v_en}", f"{zh_name} {v_zh}"
    change = (value - expected) / abs(expected) * 100 if expected else 0.0
    base_en = "baseline for this time" if seasonal else "baseline"
    base_zh = "同时段基线" if seasonal else "基线"
    word = "高" if value >= expected else "低"
    return (
        f"{en_name} {v_en} — {change:+.0f}% vs {base_en} {fmt(kpi, expected)}",
        f"{zh_name} {v_zh} — 比{base_zh} {fmt(kpi, expected, zh=True)} {word} {change:+.0f}%",
    )


def resolved_reason(
    kpi: str, value: float | None, expected: float | None, *, peak: float | None, minutes: float
) -> tuple[str, str]:
    """``Timeout rate back to 23% (baseline 22%) after 52 min; peak 31%`` and its zh-CN line."""
    en_name, zh_name = _names(kpi)
    base_en = f" (baseline {fmt(kpi, expected)})" if expected is not None else ""
    base_zh = f"（基线 {fmt(kpi, expected, zh=True)}）" if expected is not None else ""
    peak_en = f"; peak {fmt(kpi, peak)}" if peak is not None else ""
    peak_zh = f"，峰值 {fmt(kpi, peak, zh=True)}" if peak is not None else ""
    return (
        f"{en_name} back to {fmt(kpi, value)}{base_en} after {minutes:.0f} min{peak_en}",
        f"{zh_name}已恢复至 {fmt(kpi, value, zh=True)}{base_zh}，持续 {minutes:.0f} 分钟{peak_zh}",
    )
