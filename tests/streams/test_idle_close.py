"""An idle source still closes windows: the watermark advances on system time."""

from __future__ import annotations

from datetime import timedelta

from sim.simulator import write_stream
from sqm.config import Settings
from sqm.keys import kpi_latest
from sqm.models import ServiceEvent, decode_snapshot
from tests.streams.helpers import START, run_until


def test_the_last_window_closes_within_lateness_plus_a_few_seconds_of_idleness(redis, redis_url, tmp_path) -> None:
    settings = Settings(state_dir=tmp_path, streams={"allowed_lateness_s": 4.0, "idle_close_s": 0.5})
    events = [ServiceEvent(event_id=f"e{i}", type="contact.created", ts=START + timedelta(seconds=s), contact_id=f"c{i}",
                           team="billing", channel="phone", region="east")
              for i, s in enumerate((10, 70, 130, 178))]
    write_stream(redis, events, settings.streams.partitions)
    last_end = (START + timedelta(minutes=3)).timestamp()
    # event time alone closes minutes 0 and 1 (178 - 4 = 174 s); minute 2 needs 2 + 4 + 0.5 s of idleness
    took = run_until(settings, redis_url, redis, lambda st: st.get("closed_until", 0) >= last_end, timeout=30)
    assert took < 4.0 + 0.5 + 2 + 10, took  # lateness + idle threshold + the gap + start-up
    snap = decode_snapshot(redis.hget(kpi_latest("1m"), "*|*|*"))
    assert snap.start == START + timedelta(minutes=2) and snap.final and snap.kpis["volume"] == 2.0
