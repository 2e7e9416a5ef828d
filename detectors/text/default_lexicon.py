"""The shipped lexicon for customer service, in zh-CN and English.

Weights are how strongly a word reads negative (or positive) on its own: 1 is a
plain complaint about the service ("slow"), 2 a strong one ("scam"). Complaint
words name a complaint, a refund or a public review; they also read negative.
Negations flip the next sentiment word of their clause, intensifiers scale it.
A centre adds its own words, or removes shipped ones, in ``text.lexicon`` of the
settings (``Lexicon.extended``).
"""

from __future__ import annotations

COMPLAINT: dict[str, float] = {
    # zh-CN
    "投诉": 2.0, "举报": 2.0, "差评": 2.0, "退款": 1.5, "退钱": 1.5, "退货": 1.0, "赔偿": 1.5, "索赔": 1.5,
    "12315": 2.0, "消协": 2.0, "曝光": 2.0, "维权": 2.0, "起诉": 2.0, "律师": 1.5, "工信部": 2.0, "监管": 1.5,
    "骗": 2.0, "骗子": 2.0, "欺诈": 2.0, "坑人": 2.0, "找你们领导": 2.0, "找领导": 2.0, "经理": 1.0,
    # en
    "complaint": 2.0, "complain": 2.0, "complaining": 2.0, "refund": 1.5, "refunds": 1.5, "money back": 1.5,
    "compensation": 1.5, "chargeback": 2.0, "lawyer": 1.5, "sue": 2.0, "scam": 2.0, "fraud": 2.0,
    "rip off": 2.0, "ripoff": 2.0, "report you": 2.0, "bad review": 2.0, "manager": 1.0, "supervisor": 1.0,
    "escalate": 1.5, "cancel my account": 1.5,
}

NEGATIVE: dict[str, float] = {
    # zh-CN
    "不满意": 2.0, "不满": 1.5, "失望": 1.5, "生气": 1.5, "愤怒": 2.0, "气死": 2.0, "垃圾": 2.0, "恶心": 2.0,
    "太慢": 1.5, "很慢": 1.0, "慢": 0.8, "差": 1.0, "很差": 1.5, "太差": 1.5, "不好": 1.0, "糟糕": 1.5,
    "没人回复": 2.0, "没有人回复": 2.0, "没人理": 2.0, "没人管": 2.0, "不回复": 1.5, "不理": 1.5,
    "客服态度": 1.0, "态度差": 2.0, "态度恶劣": 2.0, "敷衍": 1.5, "推脱": 1.5, "踢皮球": 1.5,
    "等了": 0.5, "一直等": 1.0, "还没": 0.8, "还没有": 0.8, "又": 0.3, "再次": 0.5, "多次": 1.0, "好几次": 1.0,
    "问题": 0.3, "故障": 1.0, "闪退": 1.0, "打不开": 1.0, "登不上": 1.0, "扣费": 1.0, "乱扣费": 2.0,
    "重复扣费": 2.0, "多扣": 1.5, "错误": 0.8, "很麻烦": 1.0, "太麻烦": 1.5, "无语": 1.5, "离谱": 1.5, "过分": 1.5,
    "忽悠": 1.5, "解决不了": 1.5, "没解决": 1.5, "没有解决": 1.5, "浪费时间": 1.5, "挂断": 1.0, "转来转去": 1.5,
    "😡": 2.0, "😠": 1.5, "🤬": 2.0, "😤": 1.0, "😞": 1.0, "😢": 1.0, "😭": 1.0, "👎": 1.5, "💢": 1.5,
    # en
    "unhappy": 1.5, "disappointed": 1.5, "angry": 1.5, "furious": 2.0, "terrible": 2.0, "awful": 2.0,
    "horrible": 2.0, "worst": 2.0, "bad": 1.0, "poor": 1.0, "slow": 1.0, "useless": 1.5, "rude": 2.0,
    "ridiculous": 1.5, "unacceptable": 2.0, "waiting": 0.5, "waited": 0.8, "still waiting": 1.5,
    "no one replied": 2.0, "nobody replied": 2.0, "no reply": 1.5, "no response": 1.5, "ignored": 1.5,
    "broken": 1.0, "crash": 1.0, "crashes": 1.0, "error": 0.8, "problem": 0.3, "issue": 0.3, "wrong": 0.8,
    "charged twice": 2.0, "overcharged": 2.0, "again": 0.3, "hang up": 1.0, "hung up": 1.0, "waste": 1.0,
    "frustrated": 1.5, "frustrating": 1.5, "annoyed": 1.0, "not working": 1.0,
}

POSITIVE: dict[str, float] = {
    # zh-CN
    "满意": 1.5, "非常好": 2.0, "很好": 1.5, "好": 0.5, "不错": 1.0, "谢谢": 1.0, "感谢": 1.0, "多谢": 1.0,
    "辛苦": 0.8, "解决了": 1.5, "已解决": 1.5, "耐心": 1.0, "专业": 1.0, "及时": 1.0, "快": 0.8, "很快": 1.0,
    "棒": 1.5, "赞": 1.5, "点赞": 1.5, "好评": 2.0, "没问题": 0.8, "好的": 0.3, "👍": 1.5, "😊": 1.0,
    "🙏": 0.8, "❤": 1.5, "😄": 1.0,
    # en
    "thanks": 1.0, "thank you": 1.0, "great": 1.5, "good": 1.0, "excellent": 2.0, "helpful": 1.5,
    "happy": 1.5, "satisfied": 1.5, "resolved": 1.0, "fixed": 1.0, "quick": 0.8, "fast": 0.8, "perfect": 2.0,
    "awesome": 1.5, "love": 1.5, "appreciate": 1.0, "nice": 1.0, "fine": 0.5,
}

NEGATION: tuple[str, ...] = (
    "不", "没", "没有", "不是", "别", "未", "无", "不太", "不怎么", "并不", "从不", "从没", "毫不",
    "not", "no", "never", "don't", "dont", "doesn't", "didn't", "isn't", "wasn't", "aren't", "weren't",
    "can't", "cannot", "won't", "wouldn't", "haven't", "hasn't", "nothing", "neither", "nor", "without",
)

INTENSIFIER: dict[str, float] = {
    "非常": 1.8, "特别": 1.6, "十分": 1.6, "极其": 2.0, "超级": 1.8, "太": 1.5, "很": 1.3, "真": 1.3, "真的": 1.3,
    "完全": 1.5, "根本": 1.5, "一直": 1.2, "总是": 1.3, "老是": 1.3, "越来越": 1.4, "简直": 1.6, "实在": 1.4,
    "very": 1.5, "really": 1.4, "so": 1.3, "too": 1.4, "extremely": 2.0, "super": 1.6, "totally": 1.5,
    "absolutely": 1.6, "completely": 1.5, "incredibly": 1.8, "always": 1.2, "seriously": 1.4,
}

STOPWORDS: tuple[str, ...] = (
    "的", "了", "吗", "我要", "我想", "就是", "一直", "现在", "已经", "还是", "然后", "这样", "那么", "吧", "呢", "啊", "呀", "哦", "嗯", "我", "你", "您", "他", "她", "它", "我们", "你们", "他们",
    "是", "在", "就", "都", "也", "和", "与", "或", "这", "那", "这个", "那个", "有", "要", "会", "能", "可以",
    "一个", "一下", "什么", "怎么", "为什么", "还", "给", "被", "把", "让", "对", "从", "到", "请", "请问", "您好",
    "你好", "客服", "一", "个", "下", "上", "来", "去", "说", "着", "过", "得", "地",
    "a", "an", "the", "i", "i'm", "im", "me", "my", "you", "your", "we", "our", "they", "them", "it", "it's",
    "is", "are", "was", "were", "be", "been", "am", "to", "of", "and", "or", "in", "on", "at", "for", "with",
    "this", "that", "have", "has", "had", "do", "does", "did", "will", "would", "can", "could", "please", "hi",
    "hello", "there", "from", "by", "about", "as", "if", "but", "so", "just", "what", "why", "how", "when",
)
