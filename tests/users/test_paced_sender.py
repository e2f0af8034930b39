"""One user's open-model schedule: calls due, their lateness and the skipped ones counted (time passed in)."""

from __future__ import annotations

import pytest

from users.metrics import WsCounters
from users.paced_sender import PacedSender


def test_calls_come_due_at_the_rate_and_on_time_ones_are_not_late() -> None:
    sender, counters = PacedSender(max_backlog_s=10.0, phase=0.0), WsCounters()
    assert sender.due(100.0, 100.0, 1000, counters) == [100.0]
    assert sender.due(100.005, 100.0, 1000, counters) == []
    assert sender.due(100.0101, 100.0, 1000, counters) == pytest.approx([100.01])
    assert counters.calls_sent_late == 0 and counters.schedule_lag_ms < 1.0


def test_a_stalled_user_sends_its_backlog_late_and_says_how_late() -> None:
    sender, counters = PacedSender(max_backlog_s=10.0, phase=0.0), WsCounters()
    sender.due(100.0, 100.0, 1000, counters)
    due = sender.due(100.5001, 100.0, 1000, counters)  # half a second without a look
    assert len(due) == 50 and counters.calls_sent_late == 49  # the last one is due right now
    assert counters.schedule_lag_ms == pytest.approx(490.1)


def test_calls_beyond_the_backlog_are_skipped_and_room_limits_a_send() -> None:
    sender, counters = PacedSender(max_backlog_s=1.0, phase=0.0), WsCounters()
    sender.due(100.0, 10.0, 1000, counters)
    due = sender.due(105.0, 10.0, 3, counters)
    assert len(due) == 3 and counters.calls_skipped == 40  # 4 s of 10/s beyond the 1 s backlog


def test_a_paused_user_carries_no_backlog() -> None:
    sender, counters = PacedSender(max_backlog_s=10.0, phase=0.5), WsCounters()
    sender.due(100.0, 100.0, 1000, counters)
    sender.pause()
    assert sender.next_due() == float("inf")
    assert sender.due(103.0, 100.0, 1000, counters) == []  # restarts half an interval on, nothing owed
    assert counters.calls_sent_late == 0
