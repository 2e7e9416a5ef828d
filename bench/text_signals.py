"""Benchmark of the text signals (docs/text.md).

    .venv/bin/python bench/text_signals.py [--events 300000] [--no-flow]

1. per message, µs (the fastest of ``--repeat`` passes, the stages taking turns): tokenise (jieba-rs + the clause splitter), read (tokenise + lexicon
   sentiment, complaint words, terms), read + classifier features + predict, beside a plain
   ``str.split()`` and a bare ``rjieba.cut`` of the same texts — on simulated texts
   (sim.text) and on 50-character Chinese messages;
2. the complaint classifier's AUC on held-out simulated contacts, beside the lexicon alone;
3. state sizes: the classifier learned on two simulated days, and with every hashed
   feature set; an emerging-topic detector after a day of 5,000 distinct terms;
4. ``sqm flow`` (1 process) on N simulated events, and on the same events with 30 % of
   them carrying a 50-character Chinese text (bench/flow_throughput.py's runner).

Results are printed and written to bench/out/text_signals.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pickle
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import msgspec  # noqa: E402
import rjieba  # noqa: E402

from detectors.text import ComplaintModel, EmergingTopics, TextAnalyser  # noqa: E402
from sim.simulator import Simulator  # noqa: E402
from sim.text import Catalogue  # noqa: E402
from sqm.config import Settings  # noqa: E402
from sqm.eventlog import append_events  # noqa: E402
from sqm.store import connect, embedded_redis  # noqa: E402
from tests.detectors.text.simulated import contacts, held_out_auc  # noqa: E402

CLAUSES = ("我的订单三天了还没有发货", "客服一直不回复消息", "申请退款也没有人处理", "能不能尽快帮我看一下",
           "这已经是第三次联系你们了", "物流信息一直没有更新", "非常不满意你们的服务态度", "请给我一个明确的答复")


def chinese_message(rng: random.Random) -> str:
    """About 50 characters of a customer's Chinese message, from clauses of everyday complaints."""
    text = ""
    while len(text) < 48:
        text += rng.choice(CLAUSES) + rng.choice("，。！")
    return text[:50]


def per_message(texts: list[str], repeat: int) -> dict[str, float]:
    """Mean µs per message of each stage on ``texts``, each pass ``repeat`` times over them."""
    reader = TextAnalyser()
    model = ComplaintModel(grace_period=0, min_positives=0)
    reader.read("预热")  # builds the segmenter once

    def read_and_score(t: str) -> float:
        s = reader.read(t)
        x = model.features(s.terms + s.phrases, negative=s.negative, complaint_words=len(s.complaint_words),
                           sentiment=s.sentiment)
        return model.predict_one(x)

    stages = {
        "str.split (reference)": str.split,
        "rjieba.cut alone": rjieba.cut,
        "tokenise": reader.tokeniser.clauses,
        "read (tokenise + lexicon)": reader.read,
        "read + classifier predict": read_and_score,
    }
    best = dict.fromkeys(stages, float("inf"))
    for _ in range(repeat):  # the stages take turns; the fastest pass of each counts (the machine is shared)
        for name, fn in stages.items():
            t0 = time.perf_counter()
            for t in texts:
                fn(t)
            best[name] = min(best[name], (time.perf_counter() - t0) / len(texts) * 1e6)
    return {name: round(us, 2) for name, us in best.items()}


def state_sizes() -> dict[str, int]:
    reader, learned = TextAnalyser(), ComplaintModel()
    for text, unhappy in contacts(hours=48, seed=11):
        s = reader.read(text)
        learned.learn_one(learned.features(s.terms + s.phrases, negative=s.negative,
                                           complaint_words=len(s.complaint_words), sentiment=s.sentiment), unhappy)
    full = ComplaintModel(grace_period=0, min_positives=0)
    everything = {k: 1.0 for k in range(full.buckets)}
    for y in (True, False):
        full.learn_one(everything, y)
    topics = EmergingTopics()
    rng = random.Random(3)
    vocabulary = [f"词{i}" for i in range(5000)]
    for minute in range(24 * 60):
        for _ in range(20):
            topics.observe(rng.sample(vocabulary, 4), 60.0 * minute)
    return {"classifier_after_two_simulated_days_bytes": len(pickle.dumps(learned)),
            "classifier_every_feature_set_bytes": len(pickle.dumps(full)),
            "topics_after_a_day_of_5000_terms_bytes": len(pickle.dumps(topics)),
            "classifier_weights_after_two_days": len(learned.model.weights)}


def flow_with_text(url: str, settings: Settings, n: int, share: float) -> dict:
    """``sqm flow`` on N simulated events of which ``share`` carry a 50-character Chinese text."""
    import flow_throughput as ft

    r = connect(url)
    r.flushdb()
    sim = Simulator(settings, seed=1, start=ft.START, volumes={t.name: 40_000.0 for t in settings.teams})
    rng = random.Random(5)
    count, last, batch = 0, 0.0, []
    for ev in sim.events(ft.START + timedelta(days=2)):
        if share and rng.random() < share:
            ev = msgspec.structs.replace(ev, text=chinese_message(rng))
        batch.append(ev)
        last = ev.ts.timestamp()
        if len(batch) >= 20_000:
            append_events(r, batch, settings.streams.partitions)
            count += len(batch)
            batch = []
            if count >= n:
                break
    return ft.run_flow(url, count, last, 1, settings.streams.allowed_lateness_s)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=300_000)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--no-flow", action="store_true", help="skip the flow runs")
    args = ap.parse_args()
    results: dict = {"at": datetime.now(UTC).isoformat(timespec="seconds"), "load_avg": os.getloadavg()[0]}
    rng = random.Random(1)
    simulated = Catalogue(()).texts
    fifty = [chinese_message(rng) for _ in range(500)]
    for name, texts in (("simulated texts", simulated), ("50-character Chinese", fifty)):
        mean_chars = sum(map(len, texts)) / len(texts)
        res = per_message(texts, args.repeat)
        results[f"us_per_message {name}"] = {"mean_chars": round(mean_chars, 1), **res}
        print(f"µs per message, {name} ({len(texts)} texts, {mean_chars:.0f} characters on average):")
        for stage, us in res.items():
            print(f"  {stage:28s} {us:8.2f}")
    model_auc, lexicon_auc, _ = held_out_auc(contacts(hours=48, seed=11))
    results["auc"] = {"classifier": round(model_auc, 4), "lexicon": round(lexicon_auc, 4)}
    print(f"held-out AUC (two simulated days, last 30 %): classifier {model_auc:.3f}, lexicon {lexicon_auc:.3f}")
    results["state"] = state_sizes()
    for k, v in results["state"].items():
        print(f"  {k}: {v:,}")
    if not args.no_flow:
        settings = Settings()
        with contextlib.ExitStack() as stack:
            url = os.environ.get("REDIS_URL") or stack.enter_context(
                embedded_redis(Path(tempfile.mkdtemp(prefix="sqm-bench-redis-"))))
            for share in (0.0, 0.3):
                res = flow_with_text(url, settings, args.events, share)
                results[f"flow_text_share_{share}"] = res
                print(f"sqm flow, 1 process, {share:.0%} of events with 50-character Chinese text: "
                      f"{res['events_per_s']:,} events/s from start, steady {res['steady_events_per_s'] or 0:,}, "
                      f"peak RSS {res['peak_rss_mb']} MB, load {res['load_avg']:.1f}")
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "text_signals.json").write_text(json.dumps(results, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
