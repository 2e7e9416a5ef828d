"""One-line reasons for an anomaly, in English and Simplified Chinese.

Values are written by ``sqm.formatting`` (the rules alert messages and the wallboard use too);
a value and its baseline share a unit.

>>> firing_reason("timeout_rate", 0.31, 0.22)
('Timeout rate 31.0% — +41% vs baseline 22.0%', '超时率 31.0% — 比基线 22.0% 高 +41%')
>>> firing_reason("csat", 0.81, 0.9, seasonal=True)[1]
'满意度 81.0% — 比同时段基线 90.0% 低 -10%'
>>> firing_reason("frt_avg_s", 300.0, 95.0)[1]
'平均首次响应时长 5.0分钟 — 比基线 1.6分钟 高 +216%'
>>> resolved_reason("frt_avg_s", 95.0, 90.0, peak=180.0, minutes=52)[0]
'First response (avg) back to 95 s (baseline 90 s) after 52 min; peak 3.0 min'
"""

from __future__ import annotations

from sqm.formatting import MISSING, format_change, format_value
from sqm.models import KPIS


def _names(kpi: str) -> tuple[str, str]:
    info = KPIS.get(kpi)
    return (info.en, info.zh) if info is not None else (kpi, kpi)


def firing_reason(
    kpi: str, value: float, expected: float | None, *, seasonal: bool = False, what: str = "", span_min: int = 0
) -> tuple[str, str]:
    """``Timeout rate 31.0% — +41% vs baseline 22.0%`` / ``超时率 31.0% — 比基线 22.0% 高 +41%``.

    ``what`` replaces the comparison for rules without a baseline (e.g. a target);
    ``span_min`` says the value is that of a short window (the last 5 minutes):

    >>> firing_reason("frt_avg_s", 96.0, 60.0, span_min=5)
    ('First response (avg) 96 s in the last 5 min — +60% vs baseline 60 s', '平均首次响应时长 近5分钟 96秒 — 比基线 60秒 高 +60%')
    """
    en_name, zh_name = _names(kpi)
    v_en, v_zh = (format_value(kpi, value, lang, alongside=(expected,)) for lang in ("en", "zh"))
    if span_min:
        v_en, v_zh = f"{v_en} in the last {span_min} min", f"近{span_min}分钟 {v_zh}"
    if what:
        return f"{en_name} {v_en} — {what}", f"{zh_name} {v_zh} — {what}"
    if expected is None:
        return f"{en_name} {v_en}", f"{zh_name} {v_zh}"
    base_en = "baseline for this time" if seasonal else "baseline"
    base_zh = "同时段基线" if seasonal else "基线"
    e_en, e_zh = (format_value(kpi, expected, lang, alongside=(value,)) for lang in ("en", "zh"))
    c_en, c_zh = format_change(kpi, value, expected, "en"), format_change(kpi, value, expected, "zh")
    if c_en == MISSING:  # against a baseline of 0 there is no relative change to give
        return f"{en_name} {v_en} — {base_en} {e_en}", f"{zh_name} {v_zh} — {base_zh} {e_zh}"
    word = "高" if value >= expected else "低"
    return f"{en_name} {v_en} — {c_en} vs {base_en} {e_en}", f"{zh_name} {v_zh} — 比{base_zh} {e_zh} {word} {c_zh}"


def resolved_reason(
    kpi: str, value: float | None, expected: float | None, *, peak: float | None, minutes: float
) -> tuple[str, str]:
    """``Timeout rate back to 23.0% (baseline 22.0%) after 52 min; peak 31.0%`` and its zh-CN line."""
    en_name, zh_name = _names(kpi)
    v_en, v_zh = (format_value(kpi, value, lang, alongside=(expected,)) for lang in ("en", "zh"))
    e_en, e_zh = (format_value(kpi, expected, lang, alongside=(value,)) for lang in ("en", "zh"))
    base_en = f" (baseline {e_en})" if expected is not None else ""
    base_zh = f"（基线 {e_zh}）" if expected is not None else ""
    peak_en = f"; peak {format_value(kpi, peak, 'en')}" if peak is not None else ""
    peak_zh = f"，峰值 {format_value(kpi, peak, 'zh')}" if peak is not None else ""
    return (
        f"{en_name} back to {v_en}{base_en} after {minutes:.0f} min{peak_en}",
        f"{zh_name}已恢复至 {v_zh}{base_zh}，持续 {minutes:.0f} 分钟{peak_zh}",
    )
