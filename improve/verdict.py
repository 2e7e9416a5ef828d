"""An experiment's result in words, en and zh-CN.

>>> r = {"kpi": "fcr_rate", "unit": "ratio", "diff": 0.041, "mde": 0.03, "decision": "stop_effect",
...      "sequential": {"lo": 0.022, "hi": 0.060, "significant": True}, "needed_per_arm": None}
>>> en, zh = words(r, ("A", "B"))
>>> en
'First-contact resolution: B is 4.1 ± 1.9 points higher than A (better); significant; stop.'
>>> zh
'一次解决率：B比A高 4.1 ± 1.9 个百分点（更好）；显著；可以停止。'
"""

from __future__ import annotations

from typing import Any

from sqm.models import KPIS

_UNITS = {"ratio": ("points", "个百分点"), "seconds": ("s", "秒"), "score": ("points", "分"), "count": ("", "")}


def scaled(unit: str, x: float) -> float:
    """A difference as people read it: rates in percentage points."""
    return x * 100.0 if unit == "ratio" else x


def _number(x: float) -> str:
    return f"{x:,.1f}" if abs(x) < 1000 else f"{x:,.0f}"


def words(r: dict[str, Any], labels: tuple[str, str]) -> tuple[str, str]:
    """(en, zh) of one KPI's result."""
    info = KPIS[r["kpi"]]
    a, b = labels
    if r["decision"] == "no_data":
        return (f"{info.en}: not enough data in both arms yet.", f"{info.zh}：两组数据尚不足。")
    unit_en, unit_zh = _UNITS[r["unit"]]
    seq = r["sequential"]
    diff = scaled(r["unit"], r["diff"])
    half = scaled(r["unit"], (seq["hi"] - seq["lo"]) / 2)
    higher = diff >= 0
    amount = f"{_number(abs(diff))} ± {_number(half)}"
    if info.bad == "none":
        judged_en = judged_zh = ""
    else:
        better = higher == (info.bad == "down")
        judged_en, judged_zh = (" (better)", "（更好）") if better else (" (worse)", "（更差）")
    en = f"{info.en}: {b} is {amount}{' ' + unit_en if unit_en else ''} {'higher' if higher else 'lower'} than {a}{judged_en}"
    zh = f"{info.zh}：{b}比{a}{'高' if higher else '低'} {amount} {unit_zh}{judged_zh}".replace("  ", " ")
    decision = r["decision"]
    if decision == "stop_effect":
        return en + "; significant; stop.", zh + "；显著；可以停止。"
    if decision == "stop_no_effect":
        mde = _number(scaled(r["unit"], r["mde"]))
        return (en + f"; no effect as large as {mde} {unit_en}; stop.".replace("  ", " "),
                zh + f"；没有达到 {mde} {unit_zh}的效果；可以停止。".replace("  ", " "))
    need = r.get("needed_per_arm")
    more_en = f"; about {need:,} more per arm needed" if need else ""
    more_zh = f"；每组约还需 {need:,} 个样本" if need else ""
    return en + f"; not yet significant{more_en}; continue.", zh + f"；尚不显著{more_zh}；继续。"
