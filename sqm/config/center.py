"""The contact center's shape: its teams, its channels with their answer targets, the KPI targets."""

from __future__ import annotations

from pydantic import Field

from sqm.config.base import Section


class Team(Section):
    name: str
    display: str = ""
    display_zh: str = ""


class Channel(Section):
    name: str
    answer_target_s: float = Field(gt=0, description="a contact answered later than this timed out")
    display: str = ""
    display_zh: str = ""


class Targets(Section):
    """KPI targets from the customer's service standards (docs/events.md, KPIs)."""

    frt_avg_s: float = 120.0
    service_level: float = 0.95
    fcr_rate: float = 0.85
    csat: float = 0.90
    nps: float = 50.0
    complaint_rate: float = 0.02
    complaint_timely_rate: float = 0.98
    complaint_response_general_s: float = 2 * 3600.0
    complaint_response_major_s: float = 30 * 60.0
    feedback_close_s: float = 72 * 3600.0



def default_teams() -> list[Team]:
    return [
        Team(name="billing", display="Billing", display_zh="账务"),
        Team(name="tech", display="Tech support", display_zh="技术支持"),
        Team(name="sales", display="Sales", display_zh="销售"),
        Team(name="vip", display="VIP care", display_zh="VIP服务"),
    ]


def default_channels() -> list[Channel]:
    return [
        Channel(name="phone", answer_target_s=120, display="Phone", display_zh="电话"),
        Channel(name="chat", answer_target_s=30, display="Chat", display_zh="在线"),
        Channel(name="wechat", answer_target_s=30, display="WeChat", display_zh="微信"),
        Channel(name="email", answer_target_s=7200, display="E-mail", display_zh="邮件"),
    ]

