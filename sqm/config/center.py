"""The contact center's shape: its teams, its channels with their answer targets, the KPI targets."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

from sqm.config.base import Section
from sqm.models import name_problem


def _a_name(value: str) -> str:
    problem = name_problem(value) if 0 < len(value) <= 64 else "must be 1 to 64 characters"
    if problem is not None:
        msg = f"{value!r} {problem}"
        raise ValueError(msg)
    return value


NameField = Annotated[str, AfterValidator(_a_name)]
"""A team, channel or region name: what ``ServiceEvent`` accepts (``sqm.models.name_problem``)."""


class Team(Section):
    name: NameField
    display: str = ""
    display_zh: str = ""


class Channel(Section):
    name: NameField
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

