"""Gaps, duplicates and reordering told apart by seq."""

from __future__ import annotations

from users.metrics import WsCounters
from users.push_tracking import PushStreams, SequenceTracker


def test_clean_stream() -> None:
    tracker = SequenceTracker()
    assert [tracker.observe(s) for s in range(1, 6)] == ["ok"] * 5
    assert (tracker.gaps, tracker.duplicates, tracker.reordered) == (0, 0, 0)


def test_gap_then_late_arrival_is_reordering() -> None:
    tracker = SequenceTracker()
    outcomes = [tracker.observe(s) for s in (1, 2, 5, 3, 6, 4)]
    assert outcomes == ["ok", "ok", "gap", "reordered", "ok", "reordered"]
    assert (tracker.gaps, tracker.reordered, tracker.duplicates) == (0, 2, 0)


def test_true_loss_and_duplicates() -> None:
    tracker = SequenceTracker()
    for s in (1, 2, 2, 4, 1):
        tracker.observe(s)
    assert (tracker.gaps, tracker.duplicates, tracker.reordered) == (1, 2, 0)


def test_push_streams_count_into_counters_per_topic() -> None:
    counters = WsCounters()
    streams = PushStreams()
    for topic, seq in [("a", 1), ("a", 3), ("b", 1), ("a", 2), ("b", 1)]:
        streams.observe(topic, seq, counters)
    assert (counters.pushes_received, counters.push_gaps, counters.push_reordered, counters.push_duplicates) == (
        5,
        0,
        1,
        1,
    )
