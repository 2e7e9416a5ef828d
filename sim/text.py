"""What simulated customers write: opening messages, CSAT comments, complaint descriptions.

``TextMix`` turns text on (``Simulator(text=TextMix())``). A contact on a text
channel (chat, WeChat, e-mail) opens with a message (``share`` of them) on its
``contact.created``, in English with ``english`` odds, else in Chinese. What it
says depends on how the contact will end, so that text carries a signal a model
can learn:

- a contact that will end in a complaint or a CSAT of 1-2 (*unhappy*) opens from
  the unhappy templates with ``unhappy_reads_unhappy`` odds, the others with
  ``happy_reads_unhappy`` odds. The unhappy templates name words of the shipped
  lexicon (投诉, 太慢, refund);
- of the rest, unhappy contacts write a calm follow-up (上个月的账单我之前问过, "following
  up on ticket") with ``unhappy_follows_up`` odds, the others with ``happy_follows_up``.
  Those words are in no lexicon: only a model learned from outcomes can use them;
- a CSAT survey carries a comment (``comment_share``) matching its score;
- ``complaint.opened`` carries the complaint's description.

``TextSurge`` plants a term: during its interval, ``share`` of the opening messages
of the contacts created then (in its team, if given) are about that term ("APP一直闪退").

The templates are rendered once into one list (``Catalogue``); an event's text is an
index into it drawn from its own seeded generator, so turning text on changes no
other field of any event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from sim.core import C_OPEN_GENERAL, C_OPEN_MAJOR, CREATED, CSAT, SLOTS

TEXT_CHANNELS = ("chat", "wechat", "email")

_ITEMS_ZH = ("订单", "发票", "账单", "会员", "快递", "积分", "优惠券", "套餐")
_ITEMS_EN = ("order", "invoice", "bill", "membership", "parcel", "points", "coupon", "plan")
NEUTRAL_ZH = (
    "你好，我想查询一下{item}的情况", "请问{item}怎么修改", "{item}什么时候能到", "麻烦帮我看一下{item}",
    "我的{item}信息需要更新一下", "想咨询{item}的使用规则", "请问{item}在哪里可以看到", "帮我确认一下{item}，谢谢",
)
NEUTRAL_EN = (
    "hi, I have a question about my {item}", "how do I change my {item}?", "when will my {item} arrive",
    "could you check my {item} please", "I need to update my {item} details", "where can I see my {item}",
)
UNHAPPY_ZH = (
    "{item}的问题这是我第三次联系你们了，还没解决", "等了半个小时都没人回复，{item}到底怎么回事",
    "你们的{item}太慢了，非常不满意", "{item}被重复扣费，我要求退款", "工单号都给了，{item}还是没人管",
    "客服态度很差，{item}的事一直推脱", "再不处理{item}我就投诉了", "{item}出错了第三次了，浪费时间",
)
UNHAPPY_EN = (
    "this is the third time I contact you about my {item}", "no one replied about my {item} for hours",
    "my {item} is wrong again, I want a refund", "I gave you the ticket number, {item} still not fixed",
    "very disappointed with the {item}, third time asking",
)
FOLLOW_UP_ZH = ("上个月的{item}我之前已经问过", "{item}的工单号是多少来着", "之前反映过{item}的事，再确认一下")
FOLLOW_UP_EN = ("following up on my {item} ticket", "I asked about the {item} last week already")
COMMENT_BAD_ZH = ("问题没有解决，很失望", "等太久了，不满意", "客服敷衍，差评", "还是没解决")
COMMENT_BAD_EN = ("not resolved, very disappointed", "waited too long", "useless support")
COMMENT_MIDDLE_ZH = ("还行吧", "一般", "解决了，就是有点慢")
COMMENT_MIDDLE_EN = ("ok I guess", "fixed but slow")
COMMENT_GOOD_ZH = ("很满意，谢谢", "客服很耐心，点赞", "解决得很快，感谢")
COMMENT_GOOD_EN = ("great service, thanks", "quick and helpful", "thank you, all good")
COMPLAINT_ZH = ("我要投诉，{item}的问题一直没有解决", "投诉客服态度恶劣，{item}被乱扣费", "要求赔偿，{item}出错造成损失")
COMPLAINT_EN = ("formal complaint: my {item} was never fixed", "complaint about rude staff and my {item}")
SURGE_ZH = ("你们的{term}怎么回事，一直{term}", "{term}了，什么时候能好", "又是{term}，能不能处理一下")
SURGE_EN = ("what is going on with {term}?", "{term} again, please fix it")


@dataclass(frozen=True, slots=True)
class TextSurge:
    """A planted term: ``share`` of the opening messages of contacts created in [start, end) are about it."""

    term: str
    start: datetime
    end: datetime
    share: float = 0.3
    team: str | None = None

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None or not self.start < self.end:
            msg = f"text surge {self.term!r}: start and end must be aware and start < end"
            raise ValueError(msg)
        if not 0 < self.share <= 1 or not self.term.strip():
            msg = f"text surge {self.term!r}: share must be in (0, 1] and the term not empty"
            raise ValueError(msg)


@dataclass(frozen=True, slots=True)
class TextMix:
    """How much and what simulated customers write; see the module docstring."""

    share: float = 0.7
    english: float = 0.2
    unhappy_reads_unhappy: float = 0.6
    happy_reads_unhappy: float = 0.06
    unhappy_follows_up: float = 0.4
    happy_follows_up: float = 0.03
    comment_share: float = 0.5
    channels: tuple[str, ...] = TEXT_CHANNELS
    surges: tuple[TextSurge, ...] = field(default=())

    def __post_init__(self) -> None:
        for name in ("share", "english", "unhappy_reads_unhappy", "happy_reads_unhappy", "unhappy_follows_up",
                     "happy_follows_up", "comment_share"):
            if not 0 <= getattr(self, name) <= 1:
                msg = f"TextMix.{name} must be between 0 and 1, got {getattr(self, name)!r}"
                raise ValueError(msg)


def _render(templates: Sequence[str], items: Sequence[str], **extra: str) -> list[str]:
    return [t.format(item=item, **extra) for t in templates for item in items] if any("{item}" in t for t in templates) \
        else [t.format(**extra) for t in templates]


class Catalogue:
    """Every text a simulation can send, rendered once; pools are (first, count) ranges of ``texts``."""

    def __init__(self, surges: Sequence[TextSurge]) -> None:
        self.texts: list[str] = []
        self.pools: dict[str, tuple[int, int]] = {}
        for lang, items in (("zh", _ITEMS_ZH), ("en", _ITEMS_EN)):
            upper = lang.upper()
            for pool in ("NEUTRAL", "UNHAPPY", "FOLLOW_UP", "COMMENT_BAD", "COMMENT_MIDDLE", "COMMENT_GOOD", "COMPLAINT"):
                self._add(f"{pool.lower()}_{lang}", _render(globals()[f"{pool}_{upper}"], items))
            for i, surge in enumerate(surges):
                self._add(f"surge{i}_{lang}", _render(globals()[f"SURGE_{upper}"], items, term=surge.term))

    def _add(self, name: str, texts: list[str]) -> None:
        self.pools[name] = (len(self.texts), len(texts))
        self.texts.extend(texts)

    def pick(self, pool: np.ndarray, english: np.ndarray, u: np.ndarray, names: Sequence[str]) -> np.ndarray:
        """Text indices: ``names[pool[i]]`` in English or Chinese, the template drawn by ``u[i]`` in [0, 1)."""
        first = np.empty(len(pool), np.int64)
        count = np.empty(len(pool), np.int64)
        for j, name in enumerate(names):
            for lang, mask in (("en", english), ("zh", ~english)):
                sel = mask & (pool == j)
                first[sel], count[sel] = self.pools[f"{name}_{lang}"]
        return first + np.minimum((u * count).astype(np.int64), count - 1)


def english_contacts(numbers: np.ndarray, english: float) -> np.ndarray:
    """Whether each contact writes in English: a fixed function of its number (the same for all its texts)."""
    mixed = (numbers.astype(np.uint64) * np.uint64(2654435761)) % np.uint64(2**32)
    return mixed.astype(np.float64) / 2**32 < english


def assign_texts(rng: np.random.Generator, ev: np.ndarray, mix: TextMix, catalogue: Catalogue,
                 texty_cell: np.ndarray, cell_team: np.ndarray, surge_teams: Sequence[int | None]) -> None:
    """Set ``ev["txt"]`` (an index into ``catalogue.texts``, -1 for none) for one block of contacts' events."""
    numbers = ev["seq"] // SLOTS
    kind = ev["kind"]
    unhappy_numbers = numbers[((kind == CSAT) & (ev["a"] <= 2)) | (kind == C_OPEN_GENERAL) | (kind == C_OPEN_MAJOR)]
    english = english_contacts(numbers, mix.english)
    u = rng.random((5, len(ev)))
    ev["txt"] = -1

    opening = (kind == CREATED) & texty_cell[ev["cell"]] & (u[0] < mix.share)
    unhappy = np.isin(numbers, unhappy_numbers)
    reads_unhappy = u[1] < np.where(unhappy, mix.unhappy_reads_unhappy, mix.happy_reads_unhappy)
    follows_up = u[4] < np.where(unhappy, mix.unhappy_follows_up, mix.happy_follows_up)
    pool = np.where(reads_unhappy, 1, np.where(follows_up, 2, 0))
    for i, surge in enumerate(mix.surges):
        inside = (ev["t"] >= surge.start.timestamp()) & (ev["t"] < surge.end.timestamp()) & (u[3] < surge.share)
        if surge_teams[i] is not None:
            inside &= cell_team[ev["cell"]] == surge_teams[i]
        pool = np.where(inside, 3 + i, pool)
    names = ["neutral", "unhappy", "follow_up", *(f"surge{i}" for i in range(len(mix.surges)))]
    ev["txt"][opening] = catalogue.pick(pool[opening], english[opening], u[2][opening], names)

    comment = (kind == CSAT) & (u[0] < mix.comment_share)
    score = ev["a"][comment]
    tone = np.where(score <= 2, 0, np.where(score == 3, 1, 2))
    ev["txt"][comment] = catalogue.pick(tone, english[comment], u[2][comment],
                                        ["comment_bad", "comment_middle", "comment_good"])

    complaint = (kind == C_OPEN_GENERAL) | (kind == C_OPEN_MAJOR)
    ev["txt"][complaint] = catalogue.pick(np.zeros(int(complaint.sum()), np.int64), english[complaint],
                                          u[2][complaint], ["complaint"])
