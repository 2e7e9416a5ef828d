"""The embedded Redis is a real server that keeps its data across restarts and leaves nothing running."""

import psutil

from sqm.store import connect, embedded_redis


def test_embedded_redis_persists_and_stops(tmp_path):
    with embedded_redis(tmp_path) as url:
        client = connect(url)
        client.set("k", "v")
        pid = int(client.info("server")["process_id"])
        assert psutil.pid_exists(pid)
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    with embedded_redis(tmp_path) as url:
        assert connect(url).get("k") == b"v"


def test_a_second_user_of_the_same_state_dir_leaves_the_owner_running(tmp_path):
    with embedded_redis(tmp_path) as owner_url:
        owner = connect(owner_url)
        owner.set("a", "1")
        with embedded_redis(tmp_path) as guest_url:
            assert guest_url == owner_url
            assert connect(guest_url).get("a") == b"1"
        assert owner.get("a") == b"1"
        pid = int(owner.info("server")["process_id"])
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
