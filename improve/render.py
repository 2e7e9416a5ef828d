"""A report drawn three ways: HTML (an e-mail with inline chart images, ``cid:``), PDF (weasyprint, the
charts embedded) and a short WeCom markdown summary with a link to the full report."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import jinja2

from improve.charts import trend_png
from improve.report import RANK_KPIS, ReportData
from sqm.models import ALL, KPIS

_ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
                          autoescape=jinja2.select_autoescape(["html"]))

TEXT: dict[str, dict[str, str]] = {
    "en": {"kpis": "KPIs against the targets", "kpi": "KPI", "value": "Value", "target": "Target", "status": "Status",
           "previous": "Previous period", "change": "Change", "trends": "Trends", "sla": "SLA-clock compliance",
           "ranking": "Ranking", "alerts": "Incidents and alerts", "when": "Started", "where": "Where",
           "severity": "Severity", "ack": "Time to acknowledge", "reason": "What", "mean_ack": "Mean time to acknowledge",
           "none": "None in this period.", "experiments": "Experiments", "experiment": "Experiment",
           "verdict": "Verdict", "actions": "Improvement actions", "problem": "Problem", "fix": "Fix",
           "owner": "Owner", "state": "State", "deadline": "Deadline", "check": "Before/after", "met": "met",
           "missed": "missed", "centre": "Whole centre", "team": "Team", "channel": "Channel", "region": "Region",
           "day": "Daily", "week": "Weekly", "month": "Monthly", "quarter": "Quarterly", "report": "quality report",
           "not_acked": "not acknowledged"},
    "zh": {"kpis": "指标与目标", "kpi": "指标", "value": "数值", "target": "目标", "status": "达标", "previous": "上期",
           "change": "变化", "trends": "趋势", "sla": "服务时限达标", "ranking": "排名", "alerts": "事件与告警",
           "when": "开始时间", "where": "范围", "severity": "级别", "ack": "确认用时", "reason": "内容",
           "mean_ack": "平均确认用时", "none": "本期无。", "experiments": "对比实验", "experiment": "实验",
           "verdict": "结论", "actions": "改进措施", "problem": "问题", "fix": "措施", "owner": "负责人",
           "state": "状态", "deadline": "截止日期", "check": "前后对比", "met": "达标", "missed": "未达标",
           "centre": "全中心", "team": "团队", "channel": "渠道", "region": "区域", "day": "日", "week": "周",
           "month": "月", "quarter": "季度", "report": "服务质量报告", "not_acked": "未确认"},
}


def fmt(kpi: str, value: float | None) -> str:
    """A KPI value as people read it: rates in percent, seconds and counts rounded."""
    if value is None:
        return "–"
    unit = KPIS[kpi].unit
    if unit == "ratio":
        return f"{value * 100:.1f} %"
    if unit == "seconds":
        return f"{value:,.0f} s"
    return f"{value:,.1f}" if unit == "score" else f"{value:,.0f}"


def _duration(seconds: float | None, t: dict[str, str]) -> str:
    if seconds is None:
        return t["not_acked"]
    return f"{seconds / 60:.0f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


@dataclass(frozen=True)
class Rendered:
    subject: str
    html_mail: str
    """HTML whose images are ``cid:<name>`` (see ``images``)."""
    html_page: str
    """The same HTML with the images embedded (data: URIs), for the PDF and the browser."""
    images: dict[str, bytes]
    markdown: str
    """The WeCom summary (markdown, under WeCom's 4,096 bytes)."""


def title(data: ReportData) -> str:
    t = TEXT[data.language]
    scope = t["centre"] if data.team == ALL else data.team
    return (f"{scope} {data.period} {t[data.kind]}{t['report']}" if data.language == "zh"
            else f"{t[data.kind]} {t['report']} {data.period} · {scope}")


def _rows(data: ReportData, t: dict[str, str]) -> list[dict[str, Any]]:
    rows = []
    for r in data.kpis:
        info = KPIS[r["kpi"]]
        css = {True: "ok", False: "miss", None: "na"}[r["meets"]]
        status = {True: t["met"], False: t["missed"], None: "–"}[r["meets"]]
        change = "–" if r["change"] is None else ("+" if r["change"] >= 0 else "−") + fmt(r["kpi"], abs(r["change"]))
        rows.append({"kpi": r["kpi"], "name": info.zh if data.language == "zh" else info.en, "value": fmt(r["kpi"], r["value"]),
                     "target": fmt(r["kpi"], r["target"]), "previous": fmt(r["kpi"], r["previous"]), "change": change,
                     "n": f"{r['n']:,}" if info.unit != "count" else "–", "css": css, "status": status})
    return rows


def _context(data: ReportData, image_src: dict[str, str]) -> dict[str, Any]:
    t = TEXT[data.language]
    zh = data.language == "zh"
    rows = _rows(data, t)
    acks = [a["ack_s"] for a in data.alerts if a["ack_s"] is not None]
    last_day = (data.end - timedelta(days=1)).date().isoformat()
    names = {r["kpi"]: r["name"] for r in rows}
    return {
        "zh": zh, "t": t, "title": title(data), "scope": t["centre"] if data.team == ALL else f"{t['team']} {data.team}",
        "range_text": f"{data.start.date().isoformat()} – {last_day}", "kpis": rows,
        "sla": [r for r in rows if r["kpi"] in ("service_level", "complaint_timely_rate", "timeout_rate")],
        "charts": [{"src": src, "alt": names.get(k, k)} for k, src in image_src.items()],
        "rank_heads": [KPIS[k].zh if zh else KPIS[k].en for k in RANK_KPIS],
        "rankings": [(t[dim], [{"name": r["name"], "cells": [fmt(k, r[k]) for k in RANK_KPIS]} for r in rows_])
                     for dim, rows_ in data.rankings.items() if rows_],
        "alerts": [{"when": a["started_at"].strftime("%m-%d %H:%M"), "kpi": names.get(a["kpi"], a["kpi"]),
                    "where": " · ".join(x for x in (a["team"], a["channel"]) if x != ALL) or t["centre"],
                    "severity": a["severity"], "ack": _duration(a["ack_s"], t),
                    "reason": a["reason_zh"] if zh else a["reason_en"]} for a in data.alerts],
        "mean_ack": _duration(sum(acks) / len(acks), t) if acks else "–",
        "experiments": [{"name": e["name"], "verdicts": [k["verdict_zh" if zh else "verdict_en"] for k in e["kpis"].values()]}
                        for e in data.experiments],
        "actions": [{**a, "deadline": a["deadline"].date().isoformat() if a["deadline"] else "–",
                     "check": _check(a["verification"], zh)} for a in data.actions],
        "programme": _programme(data.programme, zh),
    }


def _check(v: dict[str, Any] | None, zh: bool) -> str:
    if not v or "diff" not in v:
        return "–"
    good = v.get("moved_the_good_way")
    return (("已验证" if good else "未验证") if zh else ("verified" if good else "not verified")) + \
        f" ({fmt(v['kpi'], v['before'])} → {fmt(v['kpi'], v['after'])})"


def _programme(p: dict[str, Any], zh: bool) -> str:
    def pct(x: float | None) -> str:
        return "–" if x is None else f"{x * 100:.0f} %"

    if zh:
        return (f"措施 {p.get('actions', 0)} 项；提案采纳率 {pct(p.get('adoption_rate'))}（目标 70 %）；"
                f"按期落地率 {pct(p.get('landing_rate'))}（目标 90 %）；验证有效 {pct(p.get('verified_rate'))}")
    return (f"{p.get('actions', 0)} actions; proposals adopted {pct(p.get('adoption_rate'))} (target 70 %); "
            f"landed by the deadline {pct(p.get('landing_rate'))} (target 90 %); verified {pct(p.get('verified_rate'))}")


def charts(data: ReportData, targets: dict[str, float]) -> dict[str, bytes]:
    """One PNG per trend, named ``trend-<kpi>``."""
    return {f"trend-{kpi}": trend_png(kpi, points, targets.get(kpi), data.language, hourly=data.kind == "day")
            for kpi, points in data.trends.items() if any(v is not None for _, v in points)}


def render(data: ReportData, targets: dict[str, float], link: str = "") -> Rendered:
    images = charts(data, targets)
    template = _ENV.get_template("report.html")
    mail = template.render(_context(data, {name[6:]: f"cid:{name}" for name in images}))
    page = template.render(_context(data, {name[6:]: "data:image/png;base64," + base64.b64encode(png).decode()
                                          for name, png in images.items()}))
    return Rendered(title(data), mail, page, images, markdown(data, link))


def markdown(data: ReportData, link: str = "") -> str:
    """The short summary a WeCom group bot shows: the missed targets first, the alerts, a link."""
    t = TEXT[data.language]
    zh = data.language == "zh"
    rows = _rows(data, t)
    lines = [f"**{title(data)}**"]
    missed = [r for r in rows if r["css"] == "miss"]
    met = [r for r in rows if r["css"] == "ok"]
    for r in missed:
        lines.append(f'> <font color="warning">{r["name"]} {r["value"]}</font>（{t["target"]} {r["target"]}）' if zh
                     else f'> <font color="warning">{r["name"]} {r["value"]}</font> (target {r["target"]})')
    if met:
        lines.append(("达标：" if zh else "Met: ") + ("、" if zh else ", ").join(f"{r['name']} {r['value']}" for r in met))
    lines.append((f"告警 {len(data.alerts)} 条" if zh else f"{len(data.alerts)} alerts") + " · " +
                 _programme(data.programme, zh).split("；" if zh else ";")[0])
    if link:
        lines.append(f"[{'查看完整报告' if zh else 'Full report'}]({link})")
    return "\n".join(lines)


def pdf(rendered: Rendered) -> bytes:
    """The report as PDF (weasyprint; needs Pango at run time)."""
    from weasyprint import HTML  # 0.5 s to import: only when a PDF is asked for

    out: bytes = HTML(string=rendered.html_page).write_pdf()
    return out
