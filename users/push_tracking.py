"""Pure per-topic tracking of server-push sequence numbers: gaps, duplicates and reordering."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class SequenceTracker:
    """Follows `seq` (1, 2, 3, ...) of one stream; a late arrival of a missed seq is reordering, not loss."""

    max_missing: int = 4096
    expected: int = 1
    gaps: int = 0
    duplicates: int = 0
    reordered: int = 0
    _missing: set[int] = field(default_factory=set)

    def observe(self, seq: int) -> str:
        """Record `seq`; returns "ok", "gap", "duplicate" or "reordered"."""
        if seq == self.expected:
            self.expected += 1
            return "ok"
        if seq > self.expected:
            for missing in range(self.expected, seq):
                if len(self._missing) < self.max_missing:
                    self._missing.add(missing)
            self.gaps += seq - self.expected
            self.expected = seq + 1
            return "gap"
        if seq in self._missing:
            self._missing.discard(seq)
            self.gaps -= 1
            self.reordered += 1
            return "reordered"
        self.duplicates += 1
        return "duplicate"


class PushStreams:
    """A SequenceTracker per topic, their findings added to a connection's counters as pushes arrive."""

    __slots__ = ("_trackers",)

    def __init__(self) -> None:
        self._trackers: dict[str, SequenceTracker] = {}

    def observe(self, topic: str, seq: int | None, counters: Any) -> None:
        """Count push `seq` of `topic` into `counters` (WsCounters: pushes_received, push_gaps, ...); a push
        without a seq (a notification) is only counted."""
        counters.pushes_received += 1
        if seq is None:
            return
        tracker = self._trackers.get(topic)
        if tracker is None:
            tracker = self._trackers[topic] = SequenceTracker()
        gaps, duplicates, reordered = tracker.gaps, tracker.duplicates, tracker.reordered
        tracker.observe(seq)
        counters.push_gaps += tracker.gaps - gaps
        counters.push_duplicates += tracker.duplicates - duplicates
        counters.push_reordered += tracker.reordered - reordered
