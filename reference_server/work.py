"""Tool work and pushes of one connection: the tools' Session face, pending answers, push streams."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from .context import ServerContext
from .push import Stream, Subscriber
from .tools import MAX_STREAMS_PER_CONNECTION, ToolError

log = logging.getLogger("reference_server")


class Answers(Protocol):
    """Where later answers go: the session machine (session.Session)."""

    def result_ok(self, request_id: Any, result: Any) -> None: ...

    def result_error(self, request_id: Any, code: str, message: str) -> None: ...


class Cancellable(Protocol):
    """A timer or task the adapter made (asyncio.TimerHandle, asyncio.Task)."""

    def cancel(self) -> Any: ...


class Port(Protocol):
    """What the session machine and its tool work need of the I/O shell (``connection.Connection``).

    The shell owns the transport, the flow control and every timer; a test gives a fake.
    """

    def send(self, data: bytes) -> bool:
        """Send one text message; False if it was not sent."""

    def send_frames(self, frames: list[tuple[bool, bytes]]) -> bool:
        """Send (is_binary, payload) frames; False if they were not sent."""

    def close(self, code: Any, reason: str) -> None:
        """Drop pending work and close the connection with ``code``."""

    def later(self, delay_s: float, callback: Callable[..., Any], *args: Any) -> Cancellable:
        """Call ``callback(*args)`` in ``delay_s`` seconds."""

    def spawn(self, work: Coroutine[Any, Any, None]) -> Cancellable:
        """Run ``work`` as a task."""

    def now(self) -> float:
        """The loop's monotonic time, in seconds."""

    def stream(
        self, subscriber: Subscriber, topic: str, rate: float, count: int, on_done: Callable[[Stream], None]
    ) -> Stream:
        """A started push stream of ``count`` events on ``topic`` at ``rate`` per second."""


class ToolWork:
    """The tools' ``Session`` (answer_after, answer_with, subscribe, broadcast) and the hub's ``Subscriber``.

    Later answers go back through the session machine (``result_ok`` / ``result_error``),
    pushes through ``session.send_event``; timers and tasks come from the port.
    """

    __slots__ = ("_ctx", "_counters", "_port", "_session", "inflight", "_streams", "_seqs")

    def __init__(self, ctx: ServerContext, port: Port, session: Answers) -> None:
        self._ctx = ctx
        self._counters = ctx.counters
        self._port = port
        self._session = session
        #: request id -> the timer or task that will answer it.
        self.inflight: dict[Any, Cancellable] = {}
        self._streams: set[Stream] = set()
        self._seqs: dict[str, int] = {}

    def answer_after(self, request_id: Any, delay_s: float, result: Any) -> None:
        timeout = self._ctx.tool_timeout_s
        if timeout is not None and delay_s > timeout:
            handle = self._port.later(timeout, self._answer_timeout, request_id)
        else:
            handle = self._port.later(delay_s, self._answer_later, request_id, result)
        self.inflight[request_id] = handle

    def answer_with(self, request_id: Any, work: Coroutine[Any, Any, Any]) -> None:
        self.inflight[request_id] = self._port.spawn(self._run_work(request_id, work))

    def subscribe(self, topic: str, rate: float, count: int | None) -> None:
        streams = count is None and rate > 0 or bool(count)
        if streams and len(self._streams) >= MAX_STREAMS_PER_CONNECTION:
            raise ToolError("invalid_arguments", f"at most {MAX_STREAMS_PER_CONNECTION} streams per connection")
        if topic not in self._seqs:
            self._seqs[topic] = 0
            self._ctx.hub.add(topic, self)
        if streams:
            self._streams.add(self._port.stream(self, topic, rate, count, self._streams.discard))

    def broadcast(self, topic: str, data: Any) -> int:
        return self._ctx.hub.broadcast(topic, data)

    def push_event(self, topic: str, data: Any) -> bool:
        """Send the next event on ``topic`` (seq from 1, no gaps per connection and topic)."""
        seq = self._seqs.get(topic, 0) + 1
        if not self._session.send_event(topic, seq, time.time_ns(), data):
            return False
        self._seqs[topic] = seq
        self._counters.pushes_sent += 1
        return True

    def _answer_later(self, request_id: Any, result: Any) -> None:
        self.inflight.pop(request_id, None)
        self._session.result_ok(request_id, result)

    def _answer_timeout(self, request_id: Any) -> None:
        self.inflight.pop(request_id, None)
        self._session.result_error(request_id, "timeout", f"tool ran longer than {self._ctx.tool_timeout_s:g} s")

    async def _run_work(self, request_id: Any, work: Coroutine[Any, Any, Any]) -> None:
        timeout = self._ctx.tool_timeout_s
        session = self._session
        try:
            if timeout is None:
                result = await work
            else:
                async with asyncio.timeout(timeout):
                    result = await work
        except TimeoutError:
            self.inflight.pop(request_id, None)
            session.result_error(request_id, "timeout", f"tool ran longer than {timeout:g} s")
            return
        except ToolError as exc:
            self.inflight.pop(request_id, None)
            session.result_error(request_id, exc.code, exc.message)
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("tool work for a call failed")
            self.inflight.pop(request_id, None)
            session.result_error(request_id, "tool_failed", "tool raised an internal error")
            return
        self.inflight.pop(request_id, None)
        session.result_ok(request_id, result)

    def stop_streams(self) -> None:
        """Stop every push stream (used when the server starts shutting down)."""
        for stream in self._streams:
            stream.cancel()
        self._streams.clear()

    def stop(self) -> None:
        """Cancel pending tool work (counted in calls_unanswered) and push streams; leave the hub."""
        if self.inflight:
            self._counters.calls_unanswered += len(self.inflight)
            for handle in self.inflight.values():
                handle.cancel()
            self.inflight.clear()
        self.stop_streams()
        if self._seqs:
            self._ctx.hub.remove(self, list(self._seqs))
