"""Two alerters at once never send twice; an alerter killed and restarted loses nothing and sends nothing twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from alerts import service
from alerts.runner import run_alerter
from sqm.keys import ANOMALIES
from tests.alerts.factories import anomaly, json_url, push, settings

KPIS = ["timeout_rate", "abandon_rate", "frt_avg_s", "csat", "fcr_rate"]
TEAMS = ["billing", "tech", "sales", "vip"]


def many() -> list:
    return [anomaly(k, team=t) for k in KPIS for t in TEAMS]  # 20 groups (team, kpi)


def titles(rec) -> list[str]:
    return [json.loads(b)["title"] for b in rec.bodies]


def wait_until(cond, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


@pytest.mark.slow
def test_two_alerters_share_the_work_without_double_sends(redis, redis_url, http_receiver):
    s = settings(receivers=[{"name": "ops", "urls": [json_url(http_receiver)], "language": "en"}],
                 route={"receiver": "ops"}, group_interval_s=0.5)
    stops = [threading.Event(), threading.Event()]
    threads = [threading.Thread(target=run_alerter, args=(s.model_copy(update={"alerts": s.alerts.model_copy(
        update={"consumer": f"alerter-{i}"})}), redis_url), kwargs={"stop": stops[i]}) for i in range(2)]
    for t in threads:
        t.start()
    push(redis, *many())
    push(redis, *many())  # every anomaly twice
    assert wait_until(lambda: len(http_receiver.bodies) >= 20)
    time.sleep(1.5)  # several more flush rounds: nothing else may arrive
    for e in stops:
        e.set()
    for t in threads:
        t.join(10)
    got = titles(http_receiver)
    assert len(got) == 20 and len(set(got)) == 20
    consumers = {c["name"].decode() for c in redis.xinfo_consumers(ANOMALIES, "sqm-alerter")}
    assert consumers == {"alerter-0", "alerter-1"}
    assert redis.xpending(ANOMALIES, "sqm-alerter")["pending"] == 0


SCRIPT = """
import sys
from sqm.config import load_settings
from alerts.runner import run_alerter
run_alerter(load_settings(sys.argv[1]), sys.argv[2])
"""


@pytest.mark.slow
def test_alerter_killed_with_deliveries_pending_resumes_none_lost_none_twice(redis, redis_url, http_receiver,
                                                                              tmp_path: Path):
    cfg = {"alerts": {"receivers": [{"name": "ops", "urls": [json_url(http_receiver)], "language": "en"}],
                      "route": {"receiver": "ops"}, "group_wait_s": 0, "group_interval_s": 1,
                      "retry_base_s": 0.2, "retry_max_s": 0.5, "send_lease_s": 2, "timeout_s": 1,
                      "consumer": "alerter-a"}}
    path = tmp_path / "sqm.yaml"
    path.write_text(yaml.safe_dump(cfg))
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}

    def start() -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-c", SCRIPT, str(path), redis_url], cwd=root, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    http_receiver.status = 503  # the receiver is down
    proc = start()
    try:
        push(redis, *many()[:10])
        assert wait_until(lambda: sum(1 for n in service.list_notifications(redis) if n["attempts"]) == 10)
        proc.send_signal(signal.SIGKILL)  # killed: no clean shutdown
        proc.wait(10)
        push(redis, *many()[10:])  # arrive while no alerter runs
        http_receiver.status = 200
        proc = start()
        assert wait_until(lambda: len(http_receiver.bodies) >= 20, timeout=30)
        time.sleep(2.5)  # past the send lease and more flush rounds: still nothing twice
    finally:
        proc.terminate()
        proc.wait(10)
    got = titles(http_receiver)
    assert len(got) == 20 and len(set(got)) == 20
    assert {n["status"] for n in service.list_notifications(redis)} == {"delivered"}


@pytest.mark.slow
def test_killed_mid_send_then_a_receiver_slower_than_the_lease_under_load_gets_it_once(
        redis, redis_url, tmp_path: Path, slow_receiver, cpu_burners):
    """The first try hangs (it counts nothing) and its alerter dies; the next alerter's send takes 2.5
    leases while two busy loops hold both cores: its heartbeat keeps the claim, nobody sends it again."""
    slow_receiver.counting, slow_receiver.answer_s = False, 60.0
    cfg = {"alerts": {"receivers": [{"name": "ops", "urls": [f"json://{slow_receiver.url}/hook"], "language": "en"}],
                      "route": {"receiver": "ops"}, "group_wait_s": 0, "group_interval_s": 1, "retry_base_s": 0.2,
                      "send_lease_s": 2, "timeout_s": 1, "consumer": "alerter-b"}}
    path = tmp_path / "sqm.yaml"
    path.write_text(yaml.safe_dump(cfg))
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}

    def start() -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-c", SCRIPT, str(path), redis_url], cwd=root, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    proc = start()
    try:
        push(redis, anomaly())
        assert wait_until(lambda: len(slow_receiver.tries) == 1, timeout=30)  # the send is in flight
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        with slow_receiver.lock:
            slow_receiver.counting, slow_receiver.answer_s = True, 5.0
        proc = start()
        assert wait_until(lambda: slow_receiver.count() == 1, timeout=60)
        assert wait_until(lambda: service.list_notifications(redis)[0]["status"] == "delivered", timeout=30)
        time.sleep(3)  # past another lease: no second copy
    finally:
        proc.terminate()
        proc.wait(10)
    assert slow_receiver.count() == 1 and len(slow_receiver.tries) == 2
    assert json.loads(slow_receiver.got[0])["title"] == "[FIRING] Timeout rate · Billing / Chat"
    (note,) = service.list_notifications(redis)
    assert [a["status"] for a in note["attempts"]] == ["ok"] and note["attempts"][0]["latency_ms"] > 4000
