"""users.engine.hub: waits on a connection woken by notify or at their deadline by one hub timer per process."""

from __future__ import annotations

from collections.abc import Callable
from time import perf_counter

import gevent

from users.engine import hub
from users.engine.hub import DeadlineSweeper, HubClock, PingClock, Progress, WriteWatch


def test_wake_due_wakes_exactly_the_waits_whose_deadline_has_passed() -> None:
    sweeper = DeadlineSweeper(HubClock(3600.0))  # never sweeps by itself here: time is passed in
    progress = [Progress(sweeper) for _ in range(4)]
    waits = [gevent.spawn(p.wait, deadline) for p, deadline in zip(progress, [10, 20, 20, 30], strict=True)]
    gevent.sleep(0)  # let every wait register
    assert sweeper.waiting == 4
    assert sweeper.wake_due(5.0) == 0
    assert sweeper.wake_due(20.0) == 3
    gevent.joinall(waits[:3], timeout=1)
    assert [w.dead for w in waits] == [True, True, True, False] and sweeper.waiting == 1
    progress[3].notify()  # an answer, before the deadline
    waits[3].join(timeout=1)
    assert waits[3].dead and sweeper.waiting == 0 and len(progress[3]) == 0
    stop(sweeper)


def stop(sweeper: DeadlineSweeper) -> None:
    """Stop a sweeper's timer left running at its long resolution."""
    sweeper.clock.stop()


def test_a_deadline_wakes_its_waiter_within_the_resolution_and_the_timer_then_stops() -> None:
    sweeper = DeadlineSweeper(HubClock(0.01))
    start = perf_counter()
    Progress(sweeper).wait(start + 0.05)
    waited = perf_counter() - start
    assert 0.05 <= waited < 1.0, waited
    gevent.sleep(0.05)
    assert not sweeper.clock.running and sweeper.waiting == 0


def test_notify_wakes_every_waiter_and_a_wait_without_deadline_registers_none() -> None:
    sweeper = DeadlineSweeper(HubClock(3600.0))
    progress = Progress(sweeper)
    waits = [gevent.spawn(progress.wait), gevent.spawn(progress.wait, 100.0)]
    gevent.sleep(0)
    assert len(progress) == 2 and sweeper.waiting == 1
    progress.notify()  # from a greenlet: woken at the hub's next turn
    gevent.joinall(waits, timeout=1)
    assert all(w.dead for w in waits) and len(progress) == 0 and sweeper.waiting == 0
    stop(sweeper)


def test_waking_twice_is_harmless_and_a_killed_waiter_is_forgotten() -> None:
    sweeper = DeadlineSweeper(HubClock(3600.0))
    progress = Progress(sweeper)
    first = gevent.spawn(progress.wait, 10.0)
    gevent.sleep(0)
    assert sweeper.wake_due(10.0) == 1
    progress.notify()  # already woken by its deadline: the second wake only leaves a value behind
    first.join(timeout=1)
    assert first.dead and first.successful()
    killed = gevent.spawn(progress.wait, 10.0)
    gevent.sleep(0)
    killed.kill()
    assert sweeper.waiting == 0 and len(progress) == 0
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
    watch = WriteWatch(HubClock(3600.0))  # the timer never fires here: time is passed in
    early, late = FakeWriter(10.0), FakeWriter(20.0)
    watch.add(early)
    watch.add(late)
    assert watch.due(9.99) == [] and watch.due(10.0) == [early] and set(watch.due(20.0)) == {early, late}
    watch.discard(early)
    watch.discard(late)
    assert len(watch) == 0


def test_write_watch_timer_runs_while_writers_are_watched_and_stops_after() -> None:
    watch = WriteWatch(HubClock(0.01))
    writer = FakeWriter(0.0)  # due at once
    watch.add(writer)
    deadline = perf_counter() + 5.0
    while writer.stalls == 0 and perf_counter() < deadline:
        gevent.sleep(0.01)
    assert writer.stalls == 1 and len(watch) == 0  # handed over once, and no longer watched
    while watch.clock.running and perf_counter() < deadline:
        gevent.sleep(0.01)
    assert not watch.clock.running


def test_an_exact_wait_has_a_timer_of_its_own_and_leaves_the_sweeper_alone() -> None:
    sweeper = DeadlineSweeper(HubClock(3600.0))  # would never wake anyone in this test
    start = perf_counter()
    Progress(sweeper).wait(start + 0.02, exact=True)
    waited = perf_counter() - start
    assert 0.02 <= waited < 1.0, waited
    assert sweeper.waiting == 0 and not sweeper.clock.running


def test_the_ping_clock_runs_each_connection_every_interval_and_forgets_a_cancelled_one() -> None:
    clock = PingClock()
    ran: list[str] = []
    a = clock.every(20.0, lambda: ran.append("a"), now=100.0)
    clock.every(5.0, lambda: ran.append("b"), now=100.0)
    clock.clock.stop()  # time is passed in below
    assert clock.run_due(104.9) == 0
    assert clock.run_due(105.0) == 1 and clock.run_due(110.0) == 1 and ran == ["b", "b"]
    assert clock.run_due(120.0) == 2 and sorted(ran[2:]) == ["a", "b"]  # a at 120, b at 115
    a.cancel()
    assert clock.run_due(200.0) == 1 and ran[-1] == "b"
    assert len(clock) == 1  # the cancelled one is gone, the other due again


def test_cancelled_places_leave_the_ping_clock_once_they_fill_half_of_it_not_one_interval_later() -> None:
    """Connection churn: closed connections' places do not linger until their due time."""
    clock = PingClock()
    ran: list[int] = []
    pings = [clock.every(20.0, lambda i=i: ran.append(i), now=0.0) for i in range(100)]
    clock.clock.stop()
    for ping in pings[:50]:
        ping.cancel()
    assert len(clock) == 100  # half: kept until their turn
    pings[50].cancel()
    pings[50].cancel()  # twice is once
    assert len(clock) == 49  # more than half cancelled: rebuilt without them, before any was due
    for ping in pings[51:]:
        ping.cancel()
    assert len(clock) == 0 and not clock._check(1.0)  # nothing left: the clock may stop
    assert clock.run_due(20.0) == 0 and ran == []


def test_a_ping_clock_that_falls_behind_runs_each_callback_once_not_once_per_missed_interval() -> None:
    clock = PingClock()
    ran: list[int] = []
    clock.every(1.0, lambda: ran.append(1), now=0.0)
    clock.clock.stop()
    assert clock.run_due(100.0) == 1  # 100 intervals missed: one ping now, the next one interval on
    assert clock.run_due(100.5) == 0 and clock.run_due(101.0) == 1


def test_one_clock_serves_the_sweeper_the_write_watch_and_the_ping_clock_and_stops_when_none_has_work() -> None:
    assert hub.SWEEPER.clock is hub.WRITE_WATCH.clock is hub.PING_CLOCK.clock is hub.CLOCK
    clock = HubClock(3600.0)
    work = {"a": 2, "b": 1}
    seen: list[str] = []

    def part(name: str) -> Callable[[float], bool]:
        def tick(now: float) -> bool:
            seen.append(name)
            work[name] -= 1
            return work[name] > 0

        return tick

    clock.attach(part("a"))
    clock.attach(part("b"))
    clock.start()
    clock._tick()  # both looked at; a still has work
    assert seen == ["a", "b"] and clock.running
    clock._tick()
    assert not clock.running  # nothing left: the ticker stops until a part starts it again
