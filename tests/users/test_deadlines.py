"""users.deadlines: untimed waits woken at their deadline by one sweeper greenlet that lives only while needed."""

from __future__ import annotations

from time import perf_counter

import gevent
from gevent.event import Event

from users.deadlines import DeadlineSweeper, WriteWatch


def test_wake_due_sets_exactly_the_waits_whose_deadline_has_passed() -> None:
    sweeper = DeadlineSweeper(resolution_s=3600.0)  # never sweeps by itself here: time is passed in
    events = [Event() for _ in range(4)]
    waits = [
        gevent.spawn(sweeper.wait, event, deadline) for event, deadline in zip(events, [10, 20, 20, 30], strict=True)
    ]
    gevent.sleep(0)  # let every wait register
    assert sweeper.waiting == 4
    assert sweeper.wake_due(5.0) == 0
    assert sweeper.wake_due(20.0) == 3
    gevent.joinall(waits[:3], timeout=1)
    assert [w.dead for w in waits] == [True, True, True, False] and sweeper.waiting == 1
    events[3].set()  # an answer, before the deadline
    waits[3].join(timeout=1)
    assert sweeper.waiting == 0
    stop(sweeper)


def stop(sweeper: DeadlineSweeper) -> None:
    """End a sweeper left sleeping out its long resolution."""
    if sweeper._sweeper is not None:
        sweeper._sweeper.kill()
    assert sweeper._sweeper is None


def test_a_deadline_wakes_its_waiter_within_the_resolution_and_the_sweeper_then_ends() -> None:
    sweeper = DeadlineSweeper(resolution_s=0.01)
    start = perf_counter()
    sweeper.wait(Event(), start + 0.05)
    waited = perf_counter() - start
    assert 0.05 <= waited < 1.0, waited
    gevent.sleep(0.05)
    assert sweeper._sweeper is None and sweeper.waiting == 0


def test_a_killed_waiter_is_forgotten() -> None:
    sweeper = DeadlineSweeper(resolution_s=3600.0)
    waiter = gevent.spawn(sweeper.wait, Event(), 10.0)
    gevent.sleep(0)
    waiter.kill()
    assert sweeper.waiting == 0
    stop(sweeper)


class FakeWriter:
    """A blocked writer with a fixed deadline, counting how often it is handed over."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.stalls = 0

    def write_deadline(self) -> float:
        return self.deadline

    def on_write_stalled(self) -> None:
        self.stalls += 1


def test_write_watch_hands_over_exactly_the_writers_whose_deadline_has_come() -> None:
    watch = WriteWatch(resolution_s=3600.0)  # the timer never fires here: time is passed in
    early, late = FakeWriter(10.0), FakeWriter(20.0)
    watch.add(early)
    watch.add(late)
    assert watch.due(9.99) == [] and watch.due(10.0) == [early] and set(watch.due(20.0)) == {early, late}
    watch.discard(early)
    watch.discard(late)
    assert len(watch) == 0


def test_write_watch_timer_runs_while_writers_are_watched_and_stops_after() -> None:
    watch = WriteWatch(resolution_s=0.01)
    writer = FakeWriter(0.0)  # due at once
    watch.add(writer)
    deadline = perf_counter() + 5.0
    while writer.stalls == 0 and perf_counter() < deadline:
        gevent.sleep(0.01)
    assert writer.stalls == 1 and len(watch) == 0  # handed over once, and no longer watched
    while watch._timer is not None and perf_counter() < deadline:
        gevent.sleep(0.01)
    assert watch._timer is None
