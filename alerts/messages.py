"""What a notification says, in the reader's language and the channel's format.

One Jinja2 template per channel type (``markdown`` for WeCom/DingTalk bots,
``text`` for plain-text channels with an @mention, ``html`` for e-mail, ``line``
for the console); each template reads its words from the ``zh``/``en`` table.
A message carries, per alert: the KPI's name, value, baseline, change %, window,
team/channel/region, top contributors, age, the acknowledge link and the wallboard
link. ``render`` cuts a digest that is too long for its channel by listing fewer
alerts ("… and 3 more"), never by cutting a line in half, and as a last resort by
bytes.

Values and changes are written by ``sqm.formatting`` in the reader's language (the rules the
detectors' reasons and the wallboard use); a value and its baseline share a unit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import jinja2

from sqm.formatting import format_change, format_value
from sqm.models import ALL, KPIS, Alert, Anomaly

LIMITS = {"wecom": 4000, "wecom_text": 2000, "dingtalk": 18000, "feishu": 28000, "email": 200_000,
          "generic": 8000, "console": 600}
"""Bytes per message per channel (WeCom markdown allows 4096, text 2048; some room kept for the envelope)."""

FORMATS = {"wecom": "markdown", "wecom_text": "text", "dingtalk": "markdown", "feishu": "text",
           "email": "html", "generic": "text", "console": "line"}

WORDS: dict[str, dict[str, str]] = {
    "en": {
        "firing": "FIRING", "resolved": "RESOLVED", "flapping": "FLAPPING", "escalation": "ESCALATION",
        "test": "TEST", "acknowledged": "ACKED", "value": "value", "baseline": "baseline", "change": "change",
        "window": "window", "since": "since", "age": "for", "ack": "Acknowledge", "wallboard": "Wallboard",
        "more": "more", "contributors": "mostly", "team": "team", "channel": "channel", "region": "region",
        "all": "all", "kpi": "KPI", "severity": "severity", "resolved_list": "Resolved",
        "flapping_note": "is flapping: held open, no further notices until it settles",
        "escalated_to": "Not acknowledged, escalated to", "test_body": "Test message from sqm: this receiver works.",
        "duty": "on duty",
    },
    "zh": {
        "firing": "告警", "resolved": "已恢复", "flapping": "抖动", "escalation": "升级", "test": "测试",
        "acknowledged": "已认领", "value": "当前值", "baseline": "基线", "change": "变化", "window": "窗口",
        "since": "开始于", "age": "已持续", "ack": "认领", "wallboard": "大屏", "more": "条未显示",
        "contributors": "主要来自", "team": "团队", "channel": "渠道", "region": "区域", "all": "全部",
        "kpi": "指标", "severity": "级别", "resolved_list": "已恢复",
        "flapping_note": "反复波动：保持打开，稳定前不再通知",
        "escalated_to": "未认领，已升级至", "test_body": "sqm 测试消息：此接收方工作正常。", "duty": "值班",
    },
}
ROLES = {"en": {"supervisor": "supervisor", "team_lead": "team lead", "manager": "manager"},
         "zh": {"supervisor": "主管", "team_lead": "组长", "manager": "经理"}}
SEVERITY = {"en": {"info": "info", "warning": "warning", "critical": "CRITICAL"},
            "zh": {"info": "提示", "warning": "警告", "critical": "严重"}}
WINDOW = {"en": {"1m": "1 min", "5m": "5 min", "1h": "1 h", "60m": "rolling 60 min"},
          "zh": {"1m": "1分钟", "5m": "5分钟", "1h": "1小时", "60m": "滚动60分钟"}}
_WINDOW_MIN = {"1m": 1, "5m": 5, "1h": 60, "60m": 60}


def window_label(a: Anomaly, lang: str) -> str:
    """The window the value is from: the series' window, or the detector's shorter fast window
    (an anomaly whose start..end is the last 5 minutes of a rolling hour: ``last 5 min`` / ``近5分钟``).

    >>> from datetime import UTC, datetime
    >>> a = Anomaly(kpi="frt_avg_s", window="60m", start=datetime(2026, 3, 2, 9, 55, tzinfo=UTC),
    ...             end=datetime(2026, 3, 2, 10, tzinfo=UTC), value=96.0, detector="swing")
    >>> window_label(a, "en"), window_label(a, "zh")
    ('last 5 min', '近5分钟')
    """
    minutes = round((a.end - a.start).total_seconds() / 60)
    if minutes == _WINDOW_MIN.get(a.window, minutes):
        return WINDOW[lang].get(a.window, a.window)
    return f"近{minutes}分钟" if lang == "zh" else f"last {minutes} min"

_TEMPLATES = {
    "title": (
        "{% if reason == 'test' %}[{{ w.test }}] sqm{% elif reason == 'escalation' %}[{{ w.escalation }}] "
        "{{ firing[0].kpi_name }} · {{ firing[0].where }}{% elif firing %}[{{ w.flapping if reason == 'flapping' "
        "else (w.acknowledged if reason == 'acknowledged' else w.firing) }}{% if firing|length > 1 %}:{{ firing|length }}{% endif %}] {{ firing[0].kpi_name }} · "
        "{{ firing[0].where }}{% else %}[{{ w.resolved }}{% if resolved|length > 1 %}:{{ resolved|length }}"
        "{% endif %}] {{ resolved[0].kpi_name }} · {{ resolved[0].where }}{% endif %}"
    ),
    "markdown": """\
**{{ title }}**
{% if reason == 'test' %}{{ w.test_body }}
{% endif %}{% if escalation %}{{ w.escalated_to }} {{ escalation.role }}{% if escalation.person %}: {{ escalation.person }}{% endif %}
{% endif %}{% for a in firing %}
> **{{ a.kpi_name }}** <font color="warning">{{ a.value }}</font> ({{ w.baseline }} {{ a.baseline }}, {{ w.change }} {{ a.change }}) · {{ a.severity }}
> {{ a.where }} · {{ w.window }} {{ a.window }} · {{ w.since }} {{ a.started }} ({{ w.age }} {{ a.age }}){% if a.flapping %} · {{ w.flapping_note }}{% endif %}{% if a.acked_by %} · {{ w.acknowledged }}: {{ a.acked_by }}{% endif %}
{% if a.contributors %}> {{ w.contributors }}: {{ a.contributors }}
{% endif %}{% if a.ack_url %}> [{{ w.ack }}]({{ a.ack_url }})
{% endif %}{% endfor %}{% if more_firing %}
… {{ more_firing }} {{ w.more }}
{% endif %}{% if resolved %}
**{{ w.resolved_list }}**
{% for a in resolved %}> {{ a.kpi_name }} {{ a.value }} · {{ a.where }}
{% endfor %}{% if more_resolved %}… {{ more_resolved }} {{ w.more }}
{% endif %}{% endif %}{% if wallboard_url %}
[{{ w.wallboard }}]({{ wallboard_url }}){% endif %}{% for m in mentions %} <@{{ m }}>{% endfor %}
""",
    "text": """\
{{ title }}
{% if reason == 'test' %}{{ w.test_body }}
{% endif %}{% if escalation %}{{ w.escalated_to }} {{ escalation.role }}{% if escalation.person %}: {{ escalation.person }}{% endif %}
{% endif %}{% for a in firing %}
- {{ a.kpi_name }} {{ a.value }} ({{ w.baseline }} {{ a.baseline }}, {{ w.change }} {{ a.change }}), {{ a.severity }}
  {{ a.where }}, {{ w.window }} {{ a.window }}, {{ w.since }} {{ a.started }} ({{ w.age }} {{ a.age }}){% if a.flapping %}, {{ w.flapping_note }}{% endif %}{% if a.acked_by %}, {{ w.acknowledged }}: {{ a.acked_by }}{% endif %}
{% if a.contributors %}  {{ w.contributors }}: {{ a.contributors }}
{% endif %}{% if a.ack_url %}  {{ w.ack }}: {{ a.ack_url }}
{% endif %}{% endfor %}{% if more_firing %}… {{ more_firing }} {{ w.more }}
{% endif %}{% if resolved %}
{{ w.resolved_list }}:
{% for a in resolved %}- {{ a.kpi_name }} {{ a.value }}, {{ a.where }}
{% endfor %}{% if more_resolved %}… {{ more_resolved }} {{ w.more }}
{% endif %}{% endif %}{% if wallboard_url %}{{ w.wallboard }}: {{ wallboard_url }}
{% endif %}{% for m in mentions %}@{{ m }} {% endfor %}""",
    "html": """\
<html><body style="font-family: sans-serif">
<h3>{{ title }}</h3>
{% if reason == 'test' %}<p>{{ w.test_body }}</p>{% endif %}
{% if escalation %}<p>{{ w.escalated_to }} {{ escalation.role }}{% if escalation.person %}: {{ escalation.person }}{% endif %}</p>{% endif %}
{% if firing %}<table border="1" cellpadding="4" cellspacing="0">
<tr><th>{{ w.kpi }}</th><th>{{ w.value }}</th><th>{{ w.baseline }}</th><th>{{ w.change }}</th><th>{{ w.team }} / {{ w.channel }} / {{ w.region }}</th><th>{{ w.window }}</th><th>{{ w.severity }}</th><th>{{ w.since }}</th><th></th></tr>
{% for a in firing %}<tr><td>{{ a.kpi_name }}</td><td><b>{{ a.value }}</b></td><td>{{ a.baseline }}</td><td>{{ a.change }}</td><td>{{ a.where }}</td><td>{{ a.window }}</td><td>{{ a.severity }}</td><td>{{ a.started }} ({{ a.age }})</td><td>{% if a.ack_url %}<a href="{{ a.ack_url }}">{{ w.ack }}</a>{% endif %}</td></tr>
{% if a.contributors %}<tr><td></td><td colspan="8">{{ w.contributors }}: {{ a.contributors }}</td></tr>{% endif %}
{% endfor %}</table>{% endif %}
{% if more_firing %}<p>… {{ more_firing }} {{ w.more }}</p>{% endif %}
{% if resolved %}<h4>{{ w.resolved_list }}</h4><ul>{% for a in resolved %}<li>{{ a.kpi_name }} {{ a.value }} · {{ a.where }}</li>{% endfor %}</ul>{% endif %}
{% if wallboard_url %}<p><a href="{{ wallboard_url }}">{{ w.wallboard }}</a></p>{% endif %}
</body></html>
""",
    "line": (
        "{{ title }}{% if reason == 'test' %} {{ w.test_body }}{% endif %}{% for a in firing %} | {{ a.kpi_name }} {{ a.value }} ({{ w.baseline }} {{ a.baseline }}, {{ a.change }}) "
        "{{ a.labels }} window={{ a.raw_window }} severity={{ a.raw_severity }}{% endfor %}{% if more_firing %} | +{{ more_firing }} more{% endif %}"
        "{% for a in resolved %} | resolved: {{ a.kpi_name }} {{ a.value }} {{ a.labels }}{% endfor %}"
    ),
}

_env = jinja2.Environment(loader=jinja2.DictLoader(_TEMPLATES), autoescape=jinja2.select_autoescape(["html"]),
                          undefined=jinja2.StrictUndefined, keep_trailing_newline=False)
_html_env = jinja2.Environment(loader=jinja2.DictLoader(_TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined)


def fmt_age(seconds: float, lang: str) -> str:
    m = max(0, int(seconds // 60))
    if lang == "zh":
        return f"{m}分钟" if m < 120 else f"{m // 60}小时{m % 60}分钟"
    return f"{m} min" if m < 120 else f"{m // 60} h {m % 60} min"


@dataclass(frozen=True, slots=True)
class Names:
    """Display names of teams and channels (from the settings) and the site's time zone."""

    teams: Mapping[str, tuple[str, str]]
    channels: Mapping[str, tuple[str, str]]
    tz: ZoneInfo

    def team(self, name: str, lang: str) -> str:
        return self._pick(self.teams, name, lang)

    def channel(self, name: str, lang: str) -> str:
        return self._pick(self.channels, name, lang)

    @staticmethod
    def _pick(table: Mapping[str, tuple[str, str]], name: str, lang: str) -> str:
        if name == ALL:
            return WORDS[lang]["all"]
        en, zh = table.get(name, (name, name))
        return (zh if lang == "zh" else en) or name


def incident_age(alert: Alert, now: datetime) -> float:
    """Seconds the incident has lasted: its length in event time at the last sighting, plus the wall time since.

    Not ``now - started_at``: the start is event time, and on replayed history (``sqm replay``,
    a flow catching up) event time trails the wall clock by hours or days.
    """
    seen = (alert.anomaly.end - alert.started_at).total_seconds()
    return max(0.0, seen) + max(0.0, (now - alert.updated_at).total_seconds())


def alert_view(alert: Alert, lang: str, names: Names, now: datetime, ack_url: str = "") -> dict[str, Any]:
    a = alert.anomaly
    info = KPIS.get(a.kpi)
    kpi_name = (info.zh if lang == "zh" else info.en) if info else a.kpi
    where = " / ".join([names.team(a.team, lang), names.channel(a.channel, lang)]
                       + ([a.region] if a.region not in (ALL, "default") else []))
    contributors = ", ".join(
        f"{c.value} {c.share * 100:.0f}%" for c in sorted(a.contributors, key=lambda c: -c.share)[:3]
    )
    return {
        "fingerprint": alert.fingerprint, "kpi": a.kpi, "kpi_name": kpi_name, "value": format_value(a.kpi, a.value, lang, alongside=(a.expected,)),
        "baseline": format_value(a.kpi, a.expected, lang, alongside=(a.value,)),
        "change": format_change(a.kpi, a.value, a.expected, lang, change_pct=a.change_pct), "where": where,
        "window": window_label(a, lang), "raw_window": a.window,
        "severity": SEVERITY[lang][a.severity], "raw_severity": a.severity, "state": alert.state,
        "started": alert.started_at.astimezone(names.tz).strftime("%m-%d %H:%M"),
        "age": fmt_age(incident_age(alert, now), lang), "flapping": alert.flapping,
        "acked_by": alert.acked_by or "", "contributors": contributors, "ack_url": ack_url,
        "labels": f"team={a.team} channel={a.channel} region={a.region}",
    }


@dataclass(frozen=True, slots=True)
class Message:
    title: str
    body: str
    format: str
    """``markdown``, ``text``, ``html`` or ``line``."""
    truncated: bool = False


def _fits(text: str, limit: int) -> bool:
    return len(text.encode()) <= limit


def cut_bytes(text: str, limit: int, mark: str = "…") -> str:
    """Cut to at most ``limit`` UTF-8 bytes without splitting a character.

    >>> cut_bytes("服务水平下降", 10)
    '服务…'
    """
    raw = text.encode()
    if len(raw) <= limit:
        return text
    return raw[: max(0, limit - len(mark.encode()))].decode(errors="ignore") + mark


def render(channel: str, lang: str, reason: str, firing: Sequence[dict[str, Any]], resolved: Sequence[dict[str, Any]],
           *, mentions: Sequence[str] = (), wallboard_url: str = "", escalation: Mapping[str, str] | None = None,
           limit: int | None = None) -> Message:
    """Render a notification for one channel type; ``firing``/``resolved`` are ``alert_view`` dicts."""
    fmt = FORMATS.get(channel, "text")
    limit = limit if limit is not None else LIMITS.get(channel, LIMITS["generic"])
    lang = lang if lang in WORDS else "en"
    esc = dict(escalation) if escalation else None
    if esc is not None:
        esc["role"] = ROLES[lang].get(esc.get("role", ""), esc.get("role", ""))
    base = {"reason": reason, "w": WORDS[lang], "mentions": list(mentions), "wallboard_url": wallboard_url,
            "escalation": esc}
    env = _html_env if fmt == "html" else _env
    nf, nr = len(firing), len(resolved)
    while True:
        ctx = {**base, "firing": list(firing[:nf]), "resolved": list(resolved[:nr]),
               "more_firing": len(firing) - nf, "more_resolved": len(resolved) - nr}
        title = _env.get_template("title").render(**ctx) if (firing or resolved or reason == "test") else "sqm"
        body = env.get_template(fmt).render(title=title, **ctx)
        truncated = nf < len(firing) or nr < len(resolved)
        if _fits(body, limit) or (nf <= 1 and nr <= 0) or (nf == 0 and nr <= 1):
            break
        if nr > 0 and (nr >= nf or nf <= 1):
            nr -= 1
        else:
            nf -= 1
    if not _fits(body, limit):
        body, truncated = cut_bytes(body, limit), True
    return Message(title=cut_bytes(title, 256), body=body, format=fmt, truncated=truncated)
