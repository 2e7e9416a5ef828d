"""Fan-out of Redis pub/sub messages to the open ``/v1/live`` connections.

One background thread per API process holds one Redis subscription, however
many wallboards are connected; each connection gets a bounded asyncio queue.
A connection that cannot keep up loses its oldest messages (counted in
``dropped``), never the process's memory. The subscription is made again with
back-off when Redis goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("sqm.api")

Message = tuple[str, bytes]
ALERTS_CHANGED = "alerts"
"""Name of the watch that tells SSE clients the alerts changed (event ``alerts``)."""


class _Watch:
    """A value polled from Redis; ``changed`` is True when it differs from the last one seen (not the first)."""

    _UNSEEN = object()

    def __init__(self, name: str, probe: Callable[[Any], Any], every_s: float) -> None:
        self.name = name
        self.probe = probe
        self.every_s = every_s
        self.due = 0.0
        self.last: Any = self._UNSEEN

    def changed(self, redis: Any) -> bool:
        now = time.monotonic()
        if now < self.due:
            return False
        self.due = now + self.every_s
        value = self.probe(redis)
        before, self.last = self.last, value
        return before is not self._UNSEEN and value != before


class Subscription:
    """One connection's queue of ``(channel, data)``; ``None`` means the broadcaster stopped."""

    def __init__(self, loop: asyncio.AbstractEventLoop, size: int) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[Message | None] = asyncio.Queue(size)
        self.dropped = 0

    def offer(self, item: Message | None) -> None:
        """Called from the broadcaster's thread."""
        with contextlib.suppress(RuntimeError):  # the connection's loop is closed: nothing to deliver
            self.loop.call_soon_threadsafe(self._put, item)

    def _put(self, item: Message | None) -> None:
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(item)

    async def get(self, timeout: float | None = None) -> Message | None:
        return await asyncio.wait_for(self.queue.get(), timeout)


class Broadcaster:
    """Relays the messages of ``channels`` to every subscription.

    The thread starts with the first subscription and stops with ``stop()``.
    """

    def __init__(self, redis: Any, channels: list[str], *, queue_size: int = 256, poll_s: float = 0.5) -> None:
        self.redis = redis
        self.channels = channels
        self.queue_size = queue_size
        self.poll_s = poll_s
        self._subs: set[Subscription] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.subscribed = threading.Event()
        """Set while the Redis subscription is active (tests wait on it before publishing)."""
        self._watches: list[_Watch] = []

    def watch(self, name: str, probe: Callable[[Any], Any], every_s: float = 2.0) -> None:
        """Also send ``(name, b"{}")`` whenever ``probe(redis)`` answers something new (checked every ``every_s``).

        For what is written without a pub/sub message, e.g. the alert engine's index.
        """
        self._watches.append(_Watch(name, probe, every_s))

    def subscribe(self) -> Subscription:
        sub = Subscription(asyncio.get_running_loop(), self.queue_size)
        with self._lock:
            self._subs.add(sub)
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._run, name="sqm-api-live", daemon=True)
                self._thread.start()
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self._subs.discard(sub)

    @property
    def clients(self) -> int:
        with self._lock:
            return len(self._subs)

    def stop(self, timeout: float = 5.0) -> None:
        """End every subscription and the thread (the app is shutting down)."""
        self._stop.set()
        with self._lock:
            subs, thread = list(self._subs), self._thread
        for sub in subs:
            sub.offer(None)
        if thread is not None:
            thread.join(timeout)
        with self._lock:
            self._thread = None

    def reopen(self) -> None:
        """Allow subscriptions again after ``stop`` (the same app served again)."""
        with self._lock:
            self._stop.clear()

    def _fan_out(self, item: Message) -> None:
        with self._lock:
            subs = list(self._subs)
        for sub in subs:
            sub.offer(item)

    def _run(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            pubsub = None
            try:
                pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(*self.channels)
                self.subscribed.set()
                backoff = 0.5
                while not self._stop.is_set():
                    msg = pubsub.get_message(timeout=self.poll_s)
                    if msg is not None and msg["type"] == "message":
                        channel = msg["channel"]
                        self._fan_out((channel.decode() if isinstance(channel, bytes) else channel, msg["data"]))
                    for w in self._watches:
                        if w.changed(self.redis):
                            self._fan_out((w.name, b"{}"))
            except Exception as err:  # Redis down or restarted: subscribe again, with back-off
                self.subscribed.clear()
                log.warning("api: live subscription to %s lost (%s); retrying in %.1f s", self.channels, err, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
            finally:
                if pubsub is not None:
                    with contextlib.suppress(Exception):
                        pubsub.close()
        self.subscribed.clear()
