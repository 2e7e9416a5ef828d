"""The test session's own services are real and reachable."""

import httpx


def test_redis_is_a_real_server(redis):
    assert redis.info("server")["redis_version"] >= "6.2"
    redis.xadd("s", {"a": "1"})
    assert redis.xlen("s") == 1


def test_victoria_metrics_accepts_influx_writes(victoria_url):
    r = httpx.post(f"{victoria_url}/api/v2/write?org=o&bucket=b", content=b"probe,team=x v=1")
    assert r.status_code == 204


def test_http_receiver_records_posts(http_receiver):
    httpx.post(f"http://{http_receiver.url}/hook", json={"a": 1})
    assert http_receiver.bodies == [b'{"a":1}']
