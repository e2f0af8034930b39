"""Every call settles exactly once: answered, expired or lost, and an answer that settles nothing says why."""

from __future__ import annotations

import tracemalloc

from users.wire.correlation import (
    DUPLICATE_RESULT,
    LATE_RESULT,
    UNKNOWN_REQUEST_ID,
    PendingCall,
    PendingCalls,
    RecentIds,
)


def test_out_of_order_results_settle_the_right_calls() -> None:
    pending = PendingCalls()
    for i, t in enumerate((0.0, 0.1, 0.2)):
        pending.add(str(i), "echo", t)
    call = pending.resolve("2")
    assert isinstance(call, PendingCall) and call.sent_at == 0.2
    assert isinstance(pending.resolve("0"), PendingCall)
    assert len(pending) == 1
    assert pending.oldest_sent_at() == 0.1


def test_expire_takes_only_overdue_calls_oldest_first() -> None:
    pending = PendingCalls()
    for i, t in enumerate((1.0, 2.0, 3.0, 4.0)):
        pending.add(str(i), "sleep", t)
    expired = pending.expire(now=7.0, timeout=5.0)  # cutoff 2.0: sent at 1.0 and 2.0
    assert [c.request_id for c in expired] == ["0", "1"]
    assert pending.expire(now=7.5, timeout=5.0) == []
    assert len(pending) == 2 and pending.oldest_sent_at() == 3.0


def test_late_and_unknown_answers_are_counted_apart_and_settle_nothing() -> None:
    pending = PendingCalls()
    pending.add("a", "echo", 0.0)
    pending.expire(now=10.0, timeout=1.0)
    assert pending.resolve("a") == LATE_RESULT
    assert pending.resolve("zzz") == UNKNOWN_REQUEST_ID
    assert pending.resolve("a") == UNKNOWN_REQUEST_ID  # a second late answer is no longer recognised
    assert len(pending) == 0 and pending.bad_ids == 2  # late answers are not the server's confusion


def test_lose_all_settles_everything_left() -> None:
    pending = PendingCalls()
    for i in range(5):
        pending.add(str(i), "echo", float(i))
    pending.resolve("1")
    lost = pending.lose_all()
    assert sorted(c.request_id for c in lost) == ["0", "2", "3", "4"]
    assert len(pending) == 0 and pending.lose_all() == []


def test_timed_out_memory_is_bounded() -> None:
    pending = PendingCalls(timed_out=RecentIds(3))
    for i in range(7):
        pending.add(str(i), "echo", 0.0)
    pending.expire(now=10.0, timeout=1.0)
    assert pending.resolve("0") == UNKNOWN_REQUEST_ID  # forgotten
    assert pending.resolve("3") == LATE_RESULT  # remembered


def test_recent_ids_remember_the_last_capacity_ids_and_at_most_twice_that() -> None:
    capacity = 100
    for total in (1, 99, 100, 101, 250, 1000):
        ids = RecentIds(capacity)
        for i in range(total):
            ids.add(str(i))
        remembered = [i for i in range(total) if ids.take(str(i))]
        assert remembered[-min(total, capacity) :] == list(range(max(0, total - capacity), total))
        assert len(remembered) < 2 * capacity
        assert not any(ids.take(str(i)) for i in range(total))  # taking forgets


def test_duplicate_answers_are_told_from_unknown_ones() -> None:
    pending = PendingCalls()
    pending.add("7", "echo", 0.0)
    assert isinstance(pending.resolve("7"), PendingCall)
    assert pending.resolve("7") == DUPLICATE_RESULT
    assert pending.resolve("7") == DUPLICATE_RESULT
    assert pending.resolve("8") == UNKNOWN_REQUEST_ID
    assert len(pending) == 0 and pending.bad_ids == 3


def test_an_idle_connection_s_calls_in_flight_make_no_id_sets_until_an_id_is_remembered() -> None:
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        idle = [PendingCalls() for _ in range(200)]
        per_connection = (tracemalloc.get_traced_memory()[0] - before) / len(idle)
    finally:
        tracemalloc.stop()
    assert per_connection < 500, f"{per_connection:.0f} B per idle connection (four empty sets are 864 B)"
    pending = idle[0]
    pending.add("1", "echo", 0.0)
    assert pending.expire(20.0, 10.0)[0].request_id == "1"
    assert pending.resolve("1") == LATE_RESULT
