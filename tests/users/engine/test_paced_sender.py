"""The process's open-model schedule: calls due, given back, their lateness and the skipped ones counted
(time passed in)."""

from __future__ import annotations

import pytest

from users.engine.paced_sender import PacedSender
from users.wire.metrics import WsCounters


def test_calls_come_due_at_the_rate() -> None:
    sender, counters = PacedSender(max_backlog_s=10.0), WsCounters()
    assert sender.take(100.0, 100.0, 1000, counters) == [100.0]
    assert sender.take(100.005, 100.0, 1000, counters) == []
    assert sender.take(100.0101, 100.0, 1000, counters) == pytest.approx([100.01])


def test_calls_given_back_are_due_again_from_the_first() -> None:
    sender, counters = PacedSender(max_backlog_s=10.0), WsCounters()
    sender.take(100.0, 100.0, 1000, counters)
    due = sender.take(100.0501, 100.0, 1000, counters)
    assert len(due) == 5
    sender.give_back(due[2:])  # three found no connection with room
    assert sender.take(100.0501, 100.0, 1000, counters) == due[2:]


def test_sent_counts_the_worst_lag_and_the_late_calls() -> None:
    counters = WsCounters()
    PacedSender.sent(100.5001, 100.0, 50, 49, counters)
    assert counters.calls_sent_late == 49 and counters.schedule_lag_ms == pytest.approx(500.1)
    PacedSender.sent(101.0, 100.999, 1, 0, counters)
    assert counters.schedule_lag_ms == pytest.approx(500.1)  # the worst is kept


def test_calls_beyond_the_backlog_are_skipped_and_the_limit_caps_a_take() -> None:
    sender, counters = PacedSender(max_backlog_s=1.0), WsCounters()
    sender.take(100.0, 10.0, 1000, counters)
    due = sender.take(105.0, 10.0, 3, counters)
    assert len(due) == 3 and counters.calls_skipped == 40  # 4 s of 10/s beyond the 1 s backlog


def test_a_paused_schedule_carries_no_backlog() -> None:
    sender, counters = PacedSender(max_backlog_s=10.0, phase=0.5), WsCounters()
    sender.take(100.0, 100.0, 1000, counters)
    sender.pause()
    assert sender.next_due() == float("inf")
    assert sender.take(103.0, 100.0, 1000, counters) == []  # restarts half an interval on, nothing owed
    assert counters.calls_skipped == 0
