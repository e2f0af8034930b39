"""Tool work and pushes of one connection: the tools' Session face, pending answers, push streams, the State."""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Coroutine
from typing import Any

from orjson import JSONEncodeError
from picows import WSListener

from .context import ServerContext
from .messages import event
from .push import Stream
from .tools import MAX_STREAMS_PER_CONNECTION, ToolError

log = logging.getLogger("reference_server")


class State(enum.Enum):
    """Where one connection is in its life."""

    #: Upgraded; waiting for hello (the hello timer runs).
    AWAITING_HELLO = 1
    #: The stall_hello fault swallowed the hello: everything after it is ignored.
    HELLO_STALLED = 2
    #: Hello accepted: calls are handled.
    OPEN = 3
    #: Closing or closed: nothing more is handled or sent.
    CLOSED = 4


AWAITING_HELLO, HELLO_STALLED, OPEN, CLOSED = State.AWAITING_HELLO, State.HELLO_STALLED, State.OPEN, State.CLOSED


class ToolWork(WSListener):
    """The tools' ``Session`` (answer_after, answer_with, subscribe, broadcast) and the hub's ``Subscriber``.

    Answers go through ``_result_ok`` / ``_result_error`` and sends through ``_send``,
    which the subclasses provide. ``WSListener`` is only the base picows requires of
    the final class; nothing here touches a transport.
    """

    __slots__ = ("_ctx", "_counters", "_loop", "_state", "_inflight", "_streams", "_seqs")

    def __init__(self, ctx: ServerContext) -> None:
        self._ctx = ctx
        self._counters = ctx.counters
        self._loop = ctx.loop
        self._state = AWAITING_HELLO
        self._inflight: dict[Any, asyncio.TimerHandle | asyncio.Task[None]] = {}
        self._streams: set[Stream] = set()
        self._seqs: dict[str, int] = {}

    def _send(self, data: bytes) -> bool:
        """Send one text message; False if it was not sent."""
        raise NotImplementedError

    def _result_ok(self, request_id: Any, result: Any) -> None:
        raise NotImplementedError

    def _result_error(self, request_id: Any, code: str, message: str) -> None:
        raise NotImplementedError

    def answer_after(self, request_id: Any, delay_s: float, result: Any) -> None:
        timeout = self._ctx.tool_timeout_s
        if timeout is not None and delay_s > timeout:
            handle = self._loop.call_later(timeout, self._answer_timeout, request_id)
        else:
            handle = self._loop.call_later(delay_s, self._answer_later, request_id, result)
        self._inflight[request_id] = handle

    def answer_with(self, request_id: Any, work: Coroutine[Any, Any, Any]) -> None:
        self._inflight[request_id] = self._loop.create_task(self._run_work(request_id, work))

    def subscribe(self, topic: str, rate: float, count: int | None) -> None:
        streams = count is None and rate > 0 or bool(count)
        if streams and len(self._streams) >= MAX_STREAMS_PER_CONNECTION:
            raise ToolError("invalid_arguments", f"at most {MAX_STREAMS_PER_CONNECTION} streams per connection")
        if topic not in self._seqs:
            self._seqs[topic] = 0
            self._ctx.hub.add(topic, self)
        if streams:
            stream = Stream(self._loop, self, topic, rate, count, self._streams.discard)
            self._streams.add(stream)
            stream.start()

    def broadcast(self, topic: str, data: Any) -> int:
        return self._ctx.hub.broadcast(topic, data)

    def push_event(self, topic: str, data: Any) -> bool:
        """Send the next event on ``topic`` (seq from 1, no gaps per connection and topic)."""
        if self._state is CLOSED:
            return False
        seq = self._seqs.get(topic, 0) + 1
        try:
            payload = self._encode_event(topic, seq, time.time_ns(), data)
        except JSONEncodeError:
            return False
        if not self._send(payload):
            return False
        self._seqs[topic] = seq
        self._counters.pushes_sent += 1
        return True

    def _encode_event(self, topic: str, seq: int, sent_at_ns: int, data: Any) -> bytes:
        return event(topic, seq, sent_at_ns, data)

    def _answer_later(self, request_id: Any, result: Any) -> None:
        self._inflight.pop(request_id, None)
        self._result_ok(request_id, result)

    def _answer_timeout(self, request_id: Any) -> None:
        self._inflight.pop(request_id, None)
        self._result_error(request_id, "timeout", f"tool ran longer than {self._ctx.tool_timeout_s:g} s")

    async def _run_work(self, request_id: Any, work: Coroutine[Any, Any, Any]) -> None:
        timeout = self._ctx.tool_timeout_s
        try:
            if timeout is None:
                result = await work
            else:
                async with asyncio.timeout(timeout):
                    result = await work
        except TimeoutError:
            self._inflight.pop(request_id, None)
            self._result_error(request_id, "timeout", f"tool ran longer than {timeout:g} s")
            return
        except ToolError as exc:
            self._inflight.pop(request_id, None)
            self._result_error(request_id, exc.code, exc.message)
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("tool work for a call failed")
            self._inflight.pop(request_id, None)
            self._result_error(request_id, "tool_failed", "tool raised an internal error")
            return
        self._inflight.pop(request_id, None)
        self._result_ok(request_id, result)

    def stop_streams(self) -> None:
        """Stop every push stream (used when the server starts shutting down)."""
        for stream in self._streams:
            stream.cancel()
        self._streams.clear()

    def _stop_work(self) -> None:
        """Cancel pending tool work (counted in calls_unanswered) and push streams; leave the hub."""
        if self._inflight:
            self._counters.calls_unanswered += len(self._inflight)
            for handle in self._inflight.values():
                handle.cancel()
            self._inflight.clear()
        self.stop_streams()
        if self._seqs:
            self._ctx.hub.remove(self, list(self._seqs))
