"""Pure per-topic tracking of server-push sequence numbers: gaps, duplicates and reordering."""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_RANGES = 64
"""Missing seqs are remembered as at most this many ranges per topic (the oldest forgotten first): whatever seq a
server sends, a push costs O(MAX_RANGES) time and memory, never O(gap)."""
MAX_TOPICS = 1024
"""Topics sequence-tracked per connection; pushes of further topics are counted (`pushes_untracked`), not tracked."""


@dataclass
class SequenceTracker:
    """Follows `seq` (1, 2, 3, ...) of one stream; a late arrival of a missed seq is reordering, not loss.

    `gaps` counts missing seqs (a jump from 2 to 10 adds 7); a late arrival inside a remembered missing range
    takes one back and counts as reordered, one outside any (seen, or forgotten) counts as a duplicate."""

    max_ranges: int = MAX_RANGES
    expected: int = 1
    gaps: int = 0
    duplicates: int = 0
    reordered: int = 0
    _missing: list[list[int]] = field(default_factory=list)
    """[start, stop) ranges of missing seqs, ascending, disjoint; at most `max_ranges`."""

    def observe(self, seq: int) -> str:
        """Record `seq`; returns "ok", "gap", "duplicate" or "reordered"."""
        if seq == self.expected:
            self.expected += 1
            return "ok"
        if seq > self.expected:
            self._missing.append([self.expected, seq])
            if len(self._missing) > self.max_ranges:
                del self._missing[0]
            self.gaps += seq - self.expected
            self.expected = seq + 1
            return "gap"
        if self._take(seq):
            self.gaps -= 1
            self.reordered += 1
            return "reordered"
        self.duplicates += 1
        return "duplicate"

    def _take(self, seq: int) -> bool:
        """Remove `seq` from the missing ranges; False when it is in none."""
        missing = self._missing
        for i, span in enumerate(missing):
            start, stop = span
            if seq < start:
                return False
            if seq >= stop:
                continue
            if stop - start == 1:
                del missing[i]
            elif seq == start:
                span[0] = seq + 1
            elif seq == stop - 1:
                span[1] = seq
            else:
                span[1] = seq
                missing.insert(i + 1, [seq + 1, stop])
                if len(missing) > self.max_ranges:
                    del missing[0]
            return True
        return False

    @property
    def ranges(self) -> int:
        """Missing ranges remembered now."""
        return len(self._missing)


UNSEQUENCED = "unsequenced"
"""A push without a seq (a notification): only counted."""
UNTRACKED = "untracked"
"""A push of a topic beyond the first `max_topics` of a connection: counted, not sequence-tracked."""


class PushStreams:
    """A SequenceTracker per topic (at most `max_topics`); each push's finding is returned, not counted here."""

    __slots__ = ("_trackers", "_max_topics")

    def __init__(self, max_topics: int = MAX_TOPICS) -> None:
        self._trackers: dict[str, SequenceTracker] = {}
        self._max_topics = max_topics

    @property
    def topics(self) -> int:
        """Topics tracked now."""
        return len(self._trackers)

    def observe(self, topic: str, seq: int | None) -> tuple[str, int]:
        """Track push `seq` of `topic`: (finding, gaps), the finding "ok", "gap", "duplicate", "reordered",
        `UNTRACKED` (a topic beyond the first `max_topics`) or `UNSEQUENCED` (no seq: a notification), and
        `gaps` what it changes the missing seqs by (a jump from 2 to 10: 7; a reordered arrival: -1)."""
        if seq is None:
            return UNSEQUENCED, 0
        tracker = self._trackers.get(topic)
        if tracker is None:
            if len(self._trackers) >= self._max_topics:
                return UNTRACKED, 0
            tracker = self._trackers[topic] = SequenceTracker()
        gaps = tracker.gaps
        finding = tracker.observe(seq)
        return finding, tracker.gaps - gaps
