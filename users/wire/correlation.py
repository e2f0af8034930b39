"""Pure request_id bookkeeping: calls in flight, timeouts, late and duplicate answers, the calls ledger."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

LATE_RESULT = "late_result"
DUPLICATE_RESULT = "duplicate_result"
UNKNOWN_REQUEST_ID = "unknown_request_id"


class PendingCall:
    """A call sent and not yet settled; `waiter` is whatever a blocking caller waits on.

    Once settled it is also the event that says so: `settled_at`, `length`, `failure` (None for a success) and
    `result` are set then (a slot per field, not a new object per answer: this is the hot path).
    """

    __slots__ = ("request_id", "tool", "sent_at", "waiter", "settled_at", "length", "failure", "result")

    def __init__(self, request_id: str, tool: str, sent_at: float, waiter: Any = None) -> None:
        self.request_id = request_id
        self.tool = tool
        self.sent_at = sent_at
        self.waiter = waiter

    def __repr__(self) -> str:
        return f"PendingCall({self.request_id!r}, {self.tool!r}, {self.sent_at!r})"


@dataclass
class CallLedger:
    """Counts of calls by outcome (counted from the core's output by users/wire/tally.py); `in_flight` closes the
    identity at every moment."""

    sent: int = 0
    ok: int = 0
    failed: int = 0
    timeout: int = 0
    lost: int = 0
    late_results: int = 0
    duplicate_results: int = 0
    unknown_results: int = 0

    @property
    def settled(self) -> int:
        """Calls with a final outcome."""
        return self.ok + self.failed + self.timeout + self.lost

    @property
    def in_flight(self) -> int:
        """Calls sent and not yet settled."""
        return self.sent - self.settled

    def as_dict(self) -> dict[str, int]:
        """Every count, `in_flight` included, for logs and metrics files."""
        return {
            "sent": self.sent,
            "ok": self.ok,
            "failed": self.failed,
            "timeout": self.timeout,
            "lost": self.lost,
            "in_flight": self.in_flight,
            "late_results": self.late_results,
            "duplicate_results": self.duplicate_results,
            "unknown_results": self.unknown_results,
        }


TIMED_OUT_MEMORY = 1024
"""Timed-out request ids remembered per connection (at least), so their late answers count as `late_result`."""
BAD_ID_LIMIT = 10
"""Answers matching no call (unknown_request_id, duplicate_result) one connection takes: the one that reaches it
fails the connection (close 1002, calls in flight `connection_lost: bad_request_ids`), as a broken server's."""
ANSWERED_MEMORY = 256
"""Answered request ids remembered per connection (at least), so a repeated answer counts as `duplicate_result`
rather than `unknown_request_id`; small, as it fills on every busy connection (tens of KB at most)."""


_NO_IDS: set[str] = frozenset()  # type: ignore[assignment]
"""A generation not made yet: an empty set is 216 bytes, and an idle connection needs none (never added to)."""


class RecentIds:
    """A bounded memory of request ids (timed out, or answered), so a late or duplicate answer is told from an
    unknown one. Two generations of sets: it remembers the last `capacity` ids at least and `2 * capacity` at
    most, at the cost of a set insert per id (an ordered dict that evicts one id per insert cost three times
    as much, on every answered call). A generation's set is made by its first id."""

    __slots__ = ("_new", "_old", "_capacity")

    def __init__(self, capacity: int) -> None:
        self._new: set[str] = _NO_IDS
        self._old: set[str] = _NO_IDS
        self._capacity = capacity

    def __len__(self) -> int:
        return len(self._new) + len(self._old)

    @property
    def capacity(self) -> int:
        """Ids remembered at least; at most twice as many are."""
        return self._capacity

    def add(self, request_id: str) -> None:
        """Remember `request_id`; when the newer generation is full, the older one is forgotten."""
        new = self._new
        if new is _NO_IDS:
            new = self._new = set()
        new.add(request_id)
        if len(new) >= self._capacity:
            self._old = new
            self._new = _NO_IDS

    def take(self, request_id: str) -> bool:
        """True (and forget it) when `request_id` is remembered."""
        for generation in (self._new, self._old):
            if request_id in generation:  # never in _NO_IDS: only a made set is discarded from
                generation.discard(request_id)
                return True
        return False


@dataclass(slots=True)
class PendingCalls:
    """Calls in flight on one connection, oldest first, each settled exactly once (its outcome counted by whoever
    reads the settled call: users/wire/tally.py)."""

    timed_out: RecentIds = field(default_factory=lambda: RecentIds(TIMED_OUT_MEMORY))
    answered: RecentIds = field(default_factory=lambda: RecentIds(ANSWERED_MEMORY))
    _calls: dict[str, PendingCall] = field(default_factory=dict)
    bad_ids: int = 0
    """Answers on this connection that matched no call sent: unknown or duplicate request ids."""

    def __len__(self) -> int:
        return len(self._calls)

    def add(self, request_id: str, tool: str, sent_at: float, waiter: Any = None) -> PendingCall:
        """Record a call just sent."""
        call = PendingCall(request_id, tool, sent_at, waiter)
        self._calls[request_id] = call
        return call

    def resolve(self, request_id: str) -> PendingCall | str:
        """Settle the call answered with `request_id`; for an answer that settles nothing, the
        reason: `late_result` (its call already timed out), `duplicate_result` (already answered) or
        `unknown_request_id`."""
        call = self._calls.pop(request_id, None)
        if call is None:
            if self.timed_out.take(request_id):
                return LATE_RESULT
            if self.answered.take(request_id):
                self.answered.add(request_id)  # a third copy is a duplicate too
                self.bad_ids += 1
                return DUPLICATE_RESULT
            self.bad_ids += 1
            return UNKNOWN_REQUEST_ID
        self.answered.add(request_id)
        return call

    def oldest_sent_at(self) -> float | None:
        """Send time of the oldest call in flight, or None."""
        for call in self._calls.values():
            return call.sent_at
        return None

    def expire(self, now: float, timeout: float) -> list[PendingCall]:
        """Settle as timed out every call sent at or before `now - timeout`, oldest first."""
        expired: list[PendingCall] = []
        cutoff = now - timeout
        calls = self._calls
        for call in calls.values():
            if call.sent_at > cutoff:
                break
            expired.append(call)
        for call in expired:
            del calls[call.request_id]
            self.timed_out.add(call.request_id)
        return expired

    def lose_all(self) -> list[PendingCall]:
        """Settle every call in flight as lost with its connection."""
        lost = list(self._calls.values())
        self._calls.clear()
        return lost
