"""The process's open-model pacer: it follows the plan's rate times the process's share, owns one schedule and
sends round robin over the pacing connections (time passed in, no sockets, no timer: `tick` is called directly)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from users.engine.load_control import RateShare
from users.engine.pacer import Member, Pacer, PlanRate
from users.wire.metrics import WsCounters


class FakeConnection:
    """Records the intended times of the calls sent on it; `busy` refuses sends (a write in progress)."""

    def __init__(self) -> None:
        self.sent: list[float] = []
        self.settled = 0
        self.busy = False

    @property
    def in_flight(self) -> int:
        return len(self.sent) - self.settled

    def send_from_hub(self, templates: list[str], intended: list[float], room_below: int) -> bool:
        if self.busy or self.in_flight >= room_below:
            return False
        assert len(templates) == len(intended) == 1
        self.sent.extend(intended)
        return True


def member(max_in_flight: int = 100) -> Member:
    connection = FakeConnection()
    return Member(connection, connection.send_from_hub, lambda n: ["echo"] * n, max_in_flight)


def run(driver: Pacer, start: float, end: float, step: float = 0.001, settle: bool = True) -> None:
    t = start
    while t < end:
        driver.tick(t)
        if settle:  # every call answered before the next tick
            for m in driver._order:
                m.client.settled = len(m.client.sent)  # type: ignore[attr-defined]
        t += step


def test_members_joining_one_by_one_still_send_the_whole_rate_evenly() -> None:
    """A ramp at Locust's default 1 user/s: the first user carries it all, then each carries its share."""
    driver, counters = Pacer(), WsCounters()
    members = [member() for _ in range(5)]
    for second in range(10):
        if second < 5:
            driver.follow(lambda: 1000.0, counters, 10.0)
            driver.join(second, members[second], start=False)
        run(driver, float(second), second + 1.0)
    sent = [len(m.client.sent) for m in members]  # type: ignore[attr-defined]
    assert sum(sent) == pytest.approx(10_000, abs=5)
    assert sent[4] == pytest.approx(1200, abs=5)  # joined for the last 6 s, a fifth of each
    assert counters.calls_sent_late == 0 and counters.calls_skipped == 0


def test_round_robin_spreads_calls_evenly_and_skips_a_busy_connection() -> None:
    driver, counters = Pacer(), WsCounters()
    members = [member() for _ in range(4)]
    for slot, m in enumerate(members):
        m.slot = slot
        driver.follow(lambda: 4000.0, counters, 10.0)
        driver.join(slot, m, start=False)
    members[1].client.busy = True  # type: ignore[attr-defined]
    run(driver, 0.0, 1.0)
    sent = [len(m.client.sent) for m in members]  # type: ignore[attr-defined]
    assert sent[1] == 0 and sum(sent) == pytest.approx(4000, abs=5)
    assert counters.sending == {0, 2, 3}  # the busy one sent nothing
    assert max(sent) - min(s for s in sent if s) <= 1


def test_full_connections_keep_calls_due_then_send_them_late_and_say_so() -> None:
    driver, counters = Pacer(), WsCounters()
    m = member(max_in_flight=10)
    driver.follow(lambda: 1000.0, counters, 10.0)
    driver.join(0, m, start=False)
    run(driver, 0.0, 0.1, settle=False)  # nothing answered: the connection fills up at 10
    assert len(m.client.sent) == 10  # type: ignore[attr-defined]
    m.client.settled = 10  # type: ignore[attr-defined]
    driver.tick(0.1)  # answers came: the oldest waiting calls go first, with their intended times
    assert m.client.sent[10:] == pytest.approx([0.010 + i * 0.001 for i in range(10)])  # type: ignore[attr-defined]
    assert counters.calls_sent_late == 10 and counters.schedule_lag_ms == pytest.approx(90.0)


def test_calls_more_than_the_backlog_behind_are_skipped() -> None:
    driver, counters = Pacer(), WsCounters()
    m = member(max_in_flight=1)
    driver.follow(lambda: 100.0, counters, 1.0)
    driver.join(0, m, start=False)
    run(driver, 0.0, 3.0, settle=False)
    assert len(m.client.sent) == 1  # type: ignore[attr-defined]
    assert counters.calls_skipped == pytest.approx(200, abs=2)  # all but the last second's


def test_the_last_member_out_pauses_the_schedule_no_backlog_when_one_joins_again() -> None:
    driver, counters = Pacer(), WsCounters()
    first = member()
    driver.follow(lambda: 1000.0, counters, 10.0)
    driver.join(0, first, start=False)
    run(driver, 0.0, 1.0)
    driver.leave(0)
    assert len(driver) == 0 and driver.next_due() == float("inf")
    again = member()
    driver.follow(lambda: 1000.0, counters, 10.0)
    driver.join(1, again, start=False)
    run(driver, 5.0, 5.5)
    assert len(again.client.sent) == pytest.approx(500, abs=2)  # type: ignore[attr-defined]
    assert counters.calls_sent_late == 0


def test_a_rate_of_zero_sends_nothing() -> None:
    driver, counters = Pacer(), WsCounters()
    m = member()
    driver.follow(lambda: 0.0, counters, 10.0)
    driver.join(0, m, start=False)
    run(driver, 0.0, 1.0)
    assert m.client.sent == []  # type: ignore[attr-defined]


def test_the_schedule_counts_the_worst_lag_and_keeps_it() -> None:
    driver, counters = Pacer(), WsCounters()
    m = member(max_in_flight=1)
    driver.follow(lambda: 100.0, counters, 10.0)
    driver.join(0, m, start=False)
    driver.tick(100.0)  # the first call goes at once
    m.client.settled = 1  # type: ignore[attr-defined]
    driver.tick(100.5001)  # one due every 10 ms since: one room, the oldest goes 490 ms late
    assert counters.schedule_lag_ms == pytest.approx(490.1)
    m.client.settled = len(m.client.sent)  # type: ignore[attr-defined]
    driver.tick(100.5002)
    assert counters.schedule_lag_ms == pytest.approx(490.1)  # the worst is kept
    assert counters.calls_sent_late == 2


@dataclass
class Point:
    rate: float | None


class Plan:
    """A plan whose point the test sets."""

    def __init__(self, rate: float | None) -> None:
        self.now = Point(rate)

    def point(self) -> Point:
        return self.now


def test_the_pacer_reads_the_plans_rate_times_the_share_itself() -> None:
    plan, share = Plan(1000.0), RateShare()
    share.set(0.25)
    rate = PlanRate(plan, share)  # type: ignore[arg-type]
    assert rate() == 250.0
    plan.now = Point(None)  # a closed-loop stage: nothing paced
    assert rate() == 0.0
    driver, counters = Pacer(), WsCounters()
    m = member()
    plan.now = Point(1000.0)
    driver.follow(rate, counters, 10.0)
    driver.join(0, m, start=False)
    run(driver, 0.0, 1.0)
    assert len(m.client.sent) == pytest.approx(250, abs=2)  # type: ignore[attr-defined]


def test_members_are_woken_when_the_rate_ends_not_before() -> None:
    """Pacing users hold their connections for seconds; the tick that finds the plan's rate gone (the stage ended
    or the plan was replaced) wakes each of them once, so they look at the plan again at once."""
    rate = [1000.0]
    woken: list[int] = []
    driver, counters = Pacer(), WsCounters()
    for slot in range(3):
        m = member()
        m.slot = slot
        m.wake = lambda slot=slot: woken.append(slot)
        driver.join(slot, m, start=False)
    driver.follow(lambda: rate[0], counters, 10.0)
    run(driver, 0.0, 1.0)
    assert woken == []
    rate[0] = 0.0
    run(driver, 1.0, 1.5)
    assert sorted(woken) == [0, 1, 2]  # once each, not once per tick
    rate[0] = 500.0
    run(driver, 1.5, 2.0)
    assert sorted(woken) == [0, 1, 2]


def test_wake_all_wakes_every_member_once() -> None:
    """An Edit of the run's options (users/load/config.py) wakes every pacing user, so each follows it now."""
    woken: list[int] = []
    driver = Pacer()
    for slot in range(3):
        m = member()
        m.wake = lambda slot=slot: woken.append(slot)
        driver.join(slot, m, start=False)
    driver.leave(1)
    driver.wake_all()
    assert sorted(woken) == [0, 2]
