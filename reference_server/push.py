"""Server push: timed event streams on one connection, and the per-process topic hub for broadcast."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any, Protocol


class Subscriber(Protocol):
    """Something events can be pushed to (a connection)."""

    def push_event(self, topic: str, data: Any) -> bool:
        """Send one event on ``topic``; False if it could not be sent (closing)."""


class Hub:
    """Which subscribers listen to which topic, within one server process."""

    def __init__(self) -> None:
        self._topics: dict[str, dict[Subscriber, None]] = {}

    def add(self, topic: str, subscriber: Subscriber) -> None:
        """Register ``subscriber`` for broadcasts on ``topic`` (idempotent)."""
        self._topics.setdefault(topic, {})[subscriber] = None

    def remove(self, subscriber: Subscriber, topics: Iterable[str]) -> None:
        """Forget ``subscriber`` on ``topics``."""
        for topic in topics:
            members = self._topics.get(topic)
            if members is not None:
                members.pop(subscriber, None)
                if not members:
                    del self._topics[topic]

    def broadcast(self, topic: str, data: Any) -> int:
        """Push ``data`` to every subscriber of ``topic``; return how many got it."""
        members = self._topics.get(topic)
        if not members:
            return 0
        return sum(1 for subscriber in list(members) if subscriber.push_event(topic, data))

    def subscriber_count(self, topic: str) -> int:
        """How many subscribers ``topic`` has."""
        return len(self._topics.get(topic, ()))


class Stream:
    """Pushes ``count`` events on ``topic`` at ``rate`` per second, on an absolute schedule (``count`` None: until
    cancelled, when its connection ends, or until the connection takes no more).

    Event k (1-based) is due at ``start + (k - 1) / rate``; a late tick sends every
    event already due, so the stream neither drifts nor needs one timer per event at
    high rates. Each event's ``data`` is ``{"index": k, "count": count}``.
    """

    __slots__ = ("_loop", "_subscriber", "topic", "_rate", "count", "sent", "_start", "_handle", "_on_done")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        subscriber: Subscriber,
        topic: str,
        rate: float,
        count: int | None,
        on_done: Callable[[Stream], None],
    ) -> None:
        self._loop = loop
        self._subscriber = subscriber
        self.topic = topic
        self._rate = rate
        self.count = count
        self.sent = 0
        self._start = 0.0
        self._handle: asyncio.Handle | None = None
        self._on_done = on_done

    def start(self) -> None:
        """Begin on the next loop iteration (after the subscribe answer went out)."""
        self._start = self._loop.time()
        self._handle = self._loop.call_soon(self._tick)

    def cancel(self) -> None:
        """Stop sending; no further events."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _tick(self) -> None:
        self._handle = None
        elapsed = self._loop.time() - self._start
        due = int(elapsed * self._rate + 1e-9) + 1
        if self.count is not None:
            due = min(self.count, due)
        while self.sent < due:
            self.sent += 1
            if not self._subscriber.push_event(self.topic, {"index": self.sent, "count": self.count}):
                self._on_done(self)
                return
        if self.count is not None and self.sent >= self.count:
            self._on_done(self)
            return
        self._handle = self._loop.call_at(self._start + self.sent / self._rate, self._tick)
