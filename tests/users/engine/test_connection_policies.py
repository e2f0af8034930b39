"""The send policies the hub runs on a connection (ClosedLoop, Quiet), on a pure core: no sockets, no sleeping
(an I/O stand-in records what would be written; the deadline is a time far ahead or already past)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from tests.users.wire.test_core import ECHO, messages_of, open_core, result
from users.engine.connection import ClosedLoop, Quiet
from users.wire.core import ClientCore


class RecordingIO:
    """What a policy needs of ConnectionIO: the core, and sends that go to the core and are recorded."""

    def __init__(self, core: ClientCore, busy: bool = False) -> None:
        self.core = core
        self.busy = busy
        self.written: list[dict[str, Any]] = []

    def send(self, templates: Sequence[Any], waiter: Any = None, intended: Any = None) -> None:
        self.core.send_calls(templates, 200.0, intended, waiter)
        self.written += messages_of(self.core.data_to_send())

    def send_from_hub(self, templates: list[Any], intended: list[float] | None, room_below: int) -> bool:
        if self.busy or len(self.core.pending) >= room_below:
            return False
        self.send(templates, None, intended)
        return True


def picks(n: int) -> list[Any]:
    return [ECHO] * n


def answer_one(io: RecordingIO) -> None:
    """The server answers the oldest call in flight."""
    oldest = io.written[len(io.written) - len(io.core.pending)]
    io.core.receive_data(result(oldest["request_id"]), 200.1)
    io.core.events_received()


def test_closed_loop_tops_up_to_its_limit_and_each_answer_read_sends_the_next() -> None:
    io = RecordingIO(open_core())
    loop = ClosedLoop(3, picks, until=math.inf)
    loop.top_up(io)  # type: ignore[arg-type]
    assert len(io.written) == 3 and len(io.core.pending) == 3
    loop.top_up(io)  # type: ignore[arg-type]
    assert len(io.written) == 3  # already at the limit: nothing more
    answer_one(io)
    assert loop.after_read(io) is True  # type: ignore[arg-type]  # the hub sent the next: its user sleeps on
    assert len(io.written) == 4 and len(io.core.pending) == 3


def test_closed_loop_wakes_its_user_when_the_hub_cannot_send_or_the_slice_is_over() -> None:
    io = RecordingIO(open_core(), busy=True)
    loop = ClosedLoop(2, picks, until=math.inf)
    loop.top_up(io)  # type: ignore[arg-type]  # the greenlet's own write: it may wait, so busy does not stop it
    answer_one(io)
    assert loop.after_read(io) is False  # type: ignore[arg-type]  # a write in progress: the user tops up
    io.busy = False
    over = ClosedLoop(2, picks, until=0.0)  # the slice ended: no new call from the hub
    assert over.after_read(io) is False  # type: ignore[arg-type]
    assert len(io.written) == 2


def test_quiet_sends_nothing_and_keeps_its_user_asleep_while_the_connection_lives() -> None:
    io = RecordingIO(open_core())
    quiet = Quiet()
    quiet.top_up(io)  # type: ignore[arg-type]
    assert io.written == []
    assert quiet.after_read(io) is True  # type: ignore[arg-type]
    io.core.fail("reset", 201.0)
    assert quiet.after_read(io) is False  # type: ignore[arg-type]  # the end wakes the user
