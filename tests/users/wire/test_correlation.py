"""Every call settles exactly once, and the ledger identity holds at every step."""

from __future__ import annotations

import tracemalloc

from users.wire.correlation import (
    DUPLICATE_RESULT,
    LATE_RESULT,
    UNKNOWN_REQUEST_ID,
    CallLedger,
    PendingCall,
    PendingCalls,
    RecentIds,
)


def assert_identity(ledger: CallLedger, pending: PendingCalls) -> None:
    assert ledger.sent == ledger.ok + ledger.failed + ledger.timeout + ledger.lost + len(pending)
    assert ledger.in_flight == len(pending)


def test_out_of_order_results_settle_the_right_calls() -> None:
    ledger = CallLedger()
    pending = PendingCalls(ledger)
    for i, t in enumerate((0.0, 0.1, 0.2)):
        pending.add(str(i), "echo", t)
    call = pending.resolve("2", ok=True)
    assert isinstance(call, PendingCall) and call.sent_at == 0.2
    assert isinstance(pending.resolve("0", ok=False), PendingCall)
    assert (ledger.ok, ledger.failed, len(pending)) == (1, 1, 1)
    assert pending.oldest_sent_at() == 0.1
    assert_identity(ledger, pending)


def test_expire_takes_only_overdue_calls_oldest_first() -> None:
    ledger = CallLedger()
    pending = PendingCalls(ledger)
    for i, t in enumerate((1.0, 2.0, 3.0, 4.0)):
        pending.add(str(i), "sleep", t)
    expired = pending.expire(now=7.0, timeout=5.0)  # cutoff 2.0: sent at 1.0 and 2.0
    assert [c.request_id for c in expired] == ["0", "1"]
    assert ledger.timeout == 2
    assert pending.expire(now=7.5, timeout=5.0) == []
    assert_identity(ledger, pending)


def test_late_and_unknown_answers_are_counted_apart_and_settle_nothing() -> None:
    ledger = CallLedger()
    pending = PendingCalls(ledger)
    pending.add("a", "echo", 0.0)
    pending.expire(now=10.0, timeout=1.0)
    assert pending.resolve("a", ok=True) == LATE_RESULT
    assert pending.resolve("zzz", ok=True) == UNKNOWN_REQUEST_ID
    assert pending.resolve("a", ok=True) == UNKNOWN_REQUEST_ID  # a second late answer is no longer recognised
    assert (ledger.late_results, ledger.unknown_results) == (1, 2)
    assert (ledger.ok, ledger.timeout) == (0, 1)
    assert_identity(ledger, pending)


def test_lose_all_settles_everything_left() -> None:
    ledger = CallLedger()
    pending = PendingCalls(ledger)
    for i in range(5):
        pending.add(str(i), "echo", float(i))
    pending.resolve("1", ok=True)
    lost = pending.lose_all()
    assert sorted(c.request_id for c in lost) == ["0", "2", "3", "4"]
    assert (ledger.lost, len(pending)) == (4, 0)
    assert_identity(ledger, pending)
    assert ledger.as_dict()["in_flight"] == 0


def test_timed_out_memory_is_bounded() -> None:
    ledger = CallLedger()
    pending = PendingCalls(ledger, timed_out=RecentIds(3))
    for i in range(7):
        pending.add(str(i), "echo", 0.0)
    pending.expire(now=10.0, timeout=1.0)
    assert pending.resolve("0", ok=True) == UNKNOWN_REQUEST_ID  # forgotten
    assert pending.resolve("3", ok=True) == LATE_RESULT  # remembered
    assert (ledger.unknown_results, ledger.late_results) == (1, 1)


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
    ledger = CallLedger()
    pending = PendingCalls(ledger)
    pending.add("7", "echo", 0.0)
    assert isinstance(pending.resolve("7", ok=True), PendingCall)
    assert pending.resolve("7", ok=True) == DUPLICATE_RESULT
    assert pending.resolve("7", ok=True) == DUPLICATE_RESULT
    assert pending.resolve("8", ok=True) == UNKNOWN_REQUEST_ID
    assert (ledger.ok, ledger.duplicate_results, ledger.unknown_results) == (1, 2, 1)
    assert_identity(ledger, pending)


def test_an_idle_connection_s_calls_in_flight_make_no_id_sets_until_an_id_is_remembered() -> None:
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        idle = [PendingCalls(CallLedger()) for _ in range(200)]
        per_connection = (tracemalloc.get_traced_memory()[0] - before) / len(idle)
    finally:
        tracemalloc.stop()
    assert per_connection < 500, f"{per_connection:.0f} B per idle connection (four empty sets are 864 B)"
    pending = idle[0]
    pending.add("1", "echo", 0.0)
    assert pending.expire(20.0, 10.0)[0].request_id == "1"
    assert pending.resolve("1", True) == LATE_RESULT
