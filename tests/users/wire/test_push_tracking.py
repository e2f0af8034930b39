"""Gaps, duplicates and reordering told apart by seq."""

from __future__ import annotations

from users.wire.push_tracking import UNSEQUENCED, UNTRACKED, PushStreams, SequenceTracker


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


def test_push_streams_find_per_topic() -> None:
    streams = PushStreams()
    found = [streams.observe(topic, seq) for topic, seq in [("a", 1), ("a", 3), ("b", 1), ("a", 2), ("b", 1)]]
    assert found == [("ok", 0), ("gap", 1), ("ok", 0), ("reordered", -1), ("duplicate", 0)]


def test_a_huge_seq_is_one_gap_counted_exactly_in_constant_time_and_memory() -> None:
    tracker = SequenceTracker()
    huge = 9007199254740992  # 2**53: a loop over the gap would never end
    assert [tracker.observe(s) for s in (1, huge, huge + 1, 2, huge - 1, 1)] == [
        "ok", "gap", "ok", "reordered", "reordered", "duplicate",
    ]  # fmt: skip
    assert (tracker.gaps, tracker.reordered, tracker.duplicates) == (huge - 4, 2, 1)
    assert tracker.ranges == 1 and tracker.expected == huge + 2


def test_a_late_arrival_inside_a_range_splits_it_and_a_second_arrival_is_a_duplicate() -> None:
    tracker = SequenceTracker()
    for s in (1, 10, 5, 5, 2, 9):  # missing 2..9, then 5 splits [2,10) into [2,5) and [6,10)
        tracker.observe(s)
    assert (tracker.gaps, tracker.reordered, tracker.duplicates, tracker.ranges) == (5, 3, 1, 2)


def test_missing_ranges_are_bounded_the_oldest_forgotten_so_its_late_arrivals_count_as_duplicates() -> None:
    tracker = SequenceTracker(max_ranges=3)
    for s in (2, 4, 6, 8, 10):  # five gaps of one: 1, 3, 5, 7, 9 missing; only 5, 7, 9 remembered
        tracker.observe(s)
    assert (tracker.gaps, tracker.ranges) == (5, 3)
    assert [tracker.observe(s) for s in (1, 3, 5, 7, 9)] == ["duplicate"] * 2 + ["reordered"] * 3
    assert (tracker.gaps, tracker.reordered, tracker.duplicates, tracker.ranges) == (2, 3, 2, 0)


def test_splitting_a_range_when_full_forgets_the_oldest() -> None:
    tracker = SequenceTracker(max_ranges=2)
    for s in (3, 10):  # missing [1,3) and [4,10)
        tracker.observe(s)
    assert tracker.observe(6) == "reordered"  # [4,6) and [7,10): three ranges, [1,3) forgotten
    assert tracker.ranges == 2 and [tracker.observe(s) for s in (1, 5, 7)] == ["duplicate", "reordered", "reordered"]


def test_topics_beyond_the_cap_are_found_untracked() -> None:
    streams = PushStreams(max_topics=3)
    found = [streams.observe(f"t{i}", 5) for i in range(10)]  # each tracked topic starts with a gap of 4
    assert found == [("gap", 4)] * 3 + [(UNTRACKED, 0)] * 7
    assert streams.observe("t0", 4) == ("reordered", -1)  # a tracked topic stays tracked
    assert streams.observe("t9", 4) == (UNTRACKED, 0)  # an untracked one stays untracked
    assert streams.observe("note", None) == (UNSEQUENCED, 0)  # a notification is not tracked
    assert streams.topics == 3
