"""Table tests of the tokeniser and the lexicon reading, in Chinese, English and mixed text."""

from __future__ import annotations

import pickle
import time

import pytest

from detectors.text import NO_SIGNALS, Lexicon, LexiconError, TextAnalyser, Tokeniser, build_analyser

READER = TextAnalyser(Lexicon.default())

# text, negative?, complaint words, keywords that must be among those matched, sign of the sentiment
READINGS = [
    # plain words
    ("我要投诉", True, ("投诉",), ("投诉",), -1),
    ("非常满意，谢谢", False, (), (), +1),
    ("请问发票怎么开", False, (), (), 0),
    # negation flips the next sentiment word of its clause
    ("不满意", True, (), ("不满意",), -1),
    ("不太满意", True, (), (), -1),
    ("我没有不满意", False, (), (), +1),
    ("not happy at all", True, (), (), -1),
    ("not bad", False, (), (), +1),
    ("I am not complaining, thank you", False, (), (), +1),
    ("我不是要投诉，就是问一下", False, (), (), 0),
    # a negation does not cross a clause boundary
    ("没有，很满意", False, (), (), +1),
    # intensifiers
    ("太慢了", True, (), ("太慢",), -1),
    ("very slow", True, (), ("slow",), -1),
    # phrases of several tokens
    ("等了很久没人回复", True, (), ("没人回复",), -1),
    ("no one replied to my email", True, (), ("no one replied",), -1),
    ("客服态度很差", True, (), ("客服态度", "很差"), -1),
    # mixed Chinese and English, full-width letters and punctuation
    ("ＡＰＰ老是闪退，我要refund！", True, ("refund",), ("闪退", "refund"), -1),
    ("服务很好 thanks", False, (), (), +1),
    ("I want my money back，太差了", True, ("money back",), ("money back", "太差"), -1),
    # emoji
    ("😡😡😡", True, (), ("😡",), -1),
    ("👍🏻 谢谢", False, (), (), +1),
    ("好的😊", False, (), (), +1),
    # empty and meaningless text
    ("", False, (), (), 0),
    ("   ", False, (), (), 0),
    ("。。。！！！", False, (), (), 0),
    ("12345 abc", False, (), (), 0),
]


@pytest.mark.parametrize(("text", "negative", "complaints", "keywords", "sign"), READINGS, ids=[r[0] or "<empty>" for r in READINGS])
def test_reading_of_a_text(text, negative, complaints, keywords, sign):
    s = READER.read(text)
    assert s.negative is negative
    assert s.complaint_words == complaints
    assert set(keywords) <= set(s.keywords)
    assert (s.sentiment > 0) - (s.sentiment < 0) == sign
    assert -1 < s.sentiment < 1


def test_an_intensifier_strengthens_and_a_negation_weakens():
    plain, strong = READER.read("慢").sentiment, READER.read("非常慢").sentiment
    assert strong < plain < 0
    assert READER.read("very good").sentiment > READER.read("good").sentiment > 0
    assert 0 < READER.read("not bad").sentiment < -READER.read("bad").sentiment


def test_the_negation_scope_lapses():
    # three other tokens between the negation and the word: it no longer applies
    assert READER.read("不 知道 为啥 这么 慢").negative
    assert not READER.read("不慢").negative


def test_none_and_empty_read_as_nothing():
    assert READER.read(None) is NO_SIGNALS
    assert READER.read("") is NO_SIGNALS
    assert NO_SIGNALS.empty


def test_very_long_text_is_read_up_to_max_chars_and_fast():
    tail = "我要投诉"
    text = "这是一段很长的说明文字" * 1000 + tail  # 11,004 characters
    reader = TextAnalyser(max_chars=2000)
    t0 = time.perf_counter()
    s = reader.read(text)
    assert time.perf_counter() - t0 < 0.5
    assert s.complaint_words == ()  # the complaint sits beyond the characters read
    assert len(s.terms) <= 64
    assert TextAnalyser(max_chars=20_000).read(text).complaint_words == ("投诉",)
    assert max(len(t) for t in READER.read("x" * 5000).terms) == 32


def test_terms_and_phrases():
    s = READER.read("你们的APP老是闪退，登不上")
    assert s.terms == ("app", "闪退", "登不上")  # 老是 is an intensifier
    assert s.phrases == ("app 闪退",)
    assert not any("，" in p or "," in p for p in s.phrases), "no phrase across a clause boundary"
    assert "的" not in s.terms and "非常" not in READER.read("非常慢").terms


def test_tokeniser_clauses():
    tok = Tokeniser(words={"没人回复"})
    assert tok.clauses("等了很久没人回复！Refund please 😡") == (("等", "了", "很", "久", "没人回复"), ("refund", "please", "😡"))
    assert tok.tokens("don't e-mail me") == ("don't", "e-mail", "me")
    assert tok.clauses("...") == ()
    with pytest.raises(ValueError, match="max_chars"):
        Tokeniser(max_chars=0)


def test_the_centre_adds_its_own_words():
    lex = Lexicon.default().extended({"complaint": {"炸了": 2}, "negative": ["卡顿"], "intensifier": {"贼": 2},
                                      "remove": ["经理"]})
    reader = TextAnalyser(lex)
    assert reader.read("系统炸了").complaint_words == ("炸了",)
    assert reader.read("贼卡顿").sentiment < reader.read("卡顿").sentiment < 0
    assert READER.read("找你们经理").complaint_words == ("经理",)
    assert reader.read("找你们经理").complaint_words == ()


@pytest.mark.parametrize(("config", "message"), [
    ({"complaints": ["x"]}, "unknown key 'complaints'"),
    ({"negative": "卡顿"}, "text.lexicon.negative: expected a list of words"),
    ({"negative": [""]}, "text.lexicon.negative: an empty word"),
    ({"negative": {"卡顿": 0}}, r"text.lexicon.negative.卡顿: the weight must be a number in \(0, 10\]"),
    ({"intensifier": {"贼": "big"}}, "text.lexicon.intensifier.贼: the weight"),
    ({"positive": ["投诉"]}, "'投诉' is also a negative or complaint word"),
    ({"stopwords": [None]}, "None is not a word"),
    (["投诉"], "expected a mapping"),
])
def test_bad_lexicon_config_names_the_key(config, message):
    with pytest.raises(LexiconError, match=message):
        Lexicon.default().extended(config)


def test_analyser_pickles_without_its_segmenter():
    reader = TextAnalyser(Lexicon.default().extended({"negative": ["卡顿"]}))
    blob = pickle.dumps(reader)
    assert len(blob) < 50_000
    again = pickle.loads(blob)
    assert again.read("太卡顿了") == reader.read("太卡顿了")
    assert again.lexicon == reader.lexicon


def test_bad_threshold():
    with pytest.raises(ValueError, match="negative_at"):
        TextAnalyser(negative_at=1.5)


def test_built_from_settings():
    from sqm.config import Settings

    reader = build_analyser(Settings(text={"lexicon": {"negative": ["卡顿"]}, "negative_at": 0.2}).text)
    assert reader.read("卡顿").negative and reader.negative_at == 0.2
    with pytest.raises(LexiconError, match="text.lexicon.negative: an empty word"):
        build_analyser(Settings(text={"lexicon": {"negative": [" "]}}).text)
