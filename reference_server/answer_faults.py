"""The fault policy around one connection's answer path: stall, delay_ms and garbage answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .context import ServerContext
from .faults import KEEPS_ANSWER, garbage_frames

Send = Callable[[bytes], bool]
SendFrames = Callable[[list[tuple[bool, bytes]]], bool]
Later = Callable[..., Any]


class AnswerFaults:
    """Withholds, delays or garbles one connection's answers while answer faults are on.

    The session hands an encoded answer here (instead of sending it) only while
    ``ctx.answer_faults`` is set; this sends it (or not) and counts it exactly as the
    fault-free path would, plus ``faults_injected`` and ``calls_unanswered``.
    """

    __slots__ = (
        "_ctx",
        "_counters",
        "_send",
        "_send_frames",
        "_later",
        "_id_key",
        "_delayed",
        "_delay_seq",
        "_stalled",
    )

    def __init__(self, ctx: ServerContext, send: Send, send_frames: SendFrames, later: Later, id_key: str) -> None:
        self._ctx = ctx
        self._counters = ctx.counters
        self._send = send
        self._send_frames = send_frames
        self._later = later  # the shell's timers: later(delay_s, callback, *args) -> handle
        self._id_key = id_key
        self._delayed: dict[int, Any] = {}
        self._delay_seq = 0
        self._stalled = 0

    def withhold_call(self) -> bool:
        """True (and the call counted as stalled) if the stall fault is on."""
        if self._ctx.faults.stall:
            self._stalled += 1
            return True
        return False

    def answer(self, data: bytes, code: str | None) -> None:
        """Answer under the stall / delay_ms / garbage faults (``code`` None for ok)."""
        faults = self._ctx.faults
        if faults.stall:
            self._stalled += 1
        elif faults.delay_ms > 0:
            key = self._delay_seq
            self._delay_seq += 1
            self._delayed[key] = self._later(faults.delay_ms / 1000.0, self._deliver_delayed, key, data, code)
        else:
            self._deliver(data, code)

    @property
    def delaying(self) -> bool:
        """True while answers held back by delay_ms are still to be sent."""
        return bool(self._delayed)

    def stop(self) -> int:
        """Cancel the delayed answers; return how many calls this leaves unanswered (delayed and stalled)."""
        unanswered = self._stalled + len(self._delayed)
        self._stalled = 0
        for timer in self._delayed.values():
            timer.cancel()
        self._delayed.clear()
        return unanswered

    def _deliver_delayed(self, key: int, data: bytes, code: str | None) -> None:
        self._delayed.pop(key, None)
        if self._ctx.faults.stall:
            self._stalled += 1
        else:
            self._deliver(data, code)

    def _deliver(self, data: bytes, code: str | None) -> None:
        """Send one tool answer, or garbage instead of it (garbage_fraction)."""
        ctx = self._ctx
        faults = ctx.faults
        counters = self._counters
        if faults.garbage_fraction > 0 and ctx.rng.random() < faults.garbage_fraction:
            kind = faults.garbage_kind
            ctx.garbage_serial += 1
            frames = garbage_frames(kind, data, ctx.garbage_serial, faults.oversize_bytes, self._id_key)
            counters.bump(counters.faults_injected, kind)
            sent = self._send_frames(frames)
            if kind not in KEEPS_ANSWER or not sent:
                counters.calls_unanswered += 1
                return
        elif not self._send(data):
            counters.calls_unanswered += 1
            return
        if code is None:
            counters.results_ok += 1
        else:
            counters.result_error(code)
