"""The one metrics consumer: what a connection's core output (events, traffic) moves in the process's WsCounters."""

from __future__ import annotations

from users.wire.correlation import DUPLICATE_RESULT, LATE_RESULT, UNKNOWN_REQUEST_ID, PendingCall
from users.wire.errors import CallTimeout, ConnectionLost
from users.wire.events import (
    PING_TIMEOUT,
    WRITE_TIMEOUT,
    ConnectionClosed,
    CoreEvent,
    HelloAnswered,
    ProtocolFault,
    PushReceived,
)
from users.wire.metrics import WsCounters
from users.wire.traffic import MoreTraffic, Traffic

LEDGER_FAULTS = {
    LATE_RESULT: "late_results",
    DUPLICATE_RESULT: "duplicate_results",
    UNKNOWN_REQUEST_ID: "unknown_results",
}
"""Protocol faults that are answers settling no call: the ledger counter each moves (beside `protocol_errors`)."""
PUSH_FINDINGS = {"duplicate": "push_duplicates", "reordered": "push_reordered", "untracked": "pushes_untracked"}
"""A PushReceived's finding -> the counter it moves (beside `pushes_received`; gaps move `push_gaps` by `gaps`)."""


class Tally:
    """Counts into `counters` (the process's WsCounters) everything its connections report: the engine calls
    `count` wherever it takes a core's events (before reporting them, in the same hub callback or greenlet step:
    no sample can fall between), and `fold` right after queueing calls and before writing them, so the ledger's
    `sent` is counted no later than a call is written and `in_flight` = sent - settled is never negative.
    Pure: values in, counters moved; no socket, no clock. One per process or per client: it holds nothing else."""

    __slots__ = ("counters", "ledger")

    def __init__(self, counters: WsCounters) -> None:
        self.counters = counters
        self.ledger = counters.calls

    # ---------------------------------------------------------- engine facts
    def opened(self) -> None:
        """A connection was upgraded (its core made): `connects`, `connections_open`."""
        counters = self.counters
        counters.connects += 1
        counters.connections_open += 1

    def connect_failed(self) -> None:
        """A connect attempt failed before any core was made."""
        self.counters.connect_failures += 1

    def write_stalled(self) -> None:
        """A connection was given up because its user stopped while its write was blocked."""
        self.counters.write_stalls += 1

    # ------------------------------------------------------------ core output
    def fold(self, traffic: Traffic) -> None:
        """Add what `traffic` holds to the counters and zero it (a delta: folding twice counts nothing twice)."""
        counters = self.counters
        n = traffic.messages_sent
        if n:
            counters.messages_sent += n
            counters.bytes_sent += traffic.bytes_sent
            self.ledger.sent += traffic.calls_sent
            traffic.messages_sent = traffic.bytes_sent = traffic.calls_sent = 0
        n = traffic.messages_received
        if n:
            counters.messages_received += n
            counters.bytes_received += traffic.bytes_received
            traffic.messages_received = traffic.bytes_received = 0
        more = traffic.more
        if more is not None:
            self._fold_more(traffic, more)

    def count(self, events: list[CoreEvent], traffic: Traffic) -> None:
        """Fold `traffic`, then count `events` (a core's `events_received()`, in order): one call per read (the
        fold inlined, received first: a read's usual traffic)."""
        counters = self.counters
        n = traffic.messages_received
        if n:
            counters.messages_received += n
            counters.bytes_received += traffic.bytes_received
            traffic.messages_received = traffic.bytes_received = 0
        if traffic.messages_sent or traffic.more is not None:  # a reply, a hello, compressed bytes
            self.fold(traffic)
        ok = 0
        for event in events:
            if event.__class__ is PendingCall and event.failure is None:  # type: ignore[union-attr]
                ok += 1
            else:
                self._count_other(event)
        if ok:
            self.ledger.ok += ok

    def _fold_more(self, traffic: Traffic, more: MoreTraffic) -> None:
        counters = self.counters
        counters.hellos_sent += more.hellos_sent
        counters.bytes_sent_compressed += more.bytes_sent_compressed
        counters.bytes_received_compressed += more.bytes_received_compressed
        more.hellos_sent = more.bytes_sent_compressed = more.bytes_received_compressed = 0
        if not more.kept:
            traffic.more = None

    def _count_other(self, event: CoreEvent) -> None:
        kind = event.__class__
        counters = self.counters
        if kind is PendingCall:  # a failed call: by its failure
            failure = event.failure.__class__  # type: ignore[union-attr]
            ledger = self.ledger
            if failure is CallTimeout:
                ledger.timeout += 1
            elif failure is ConnectionLost:
                ledger.lost += 1
            else:
                ledger.failed += 1
        elif kind is PushReceived:
            counters.pushes_received += 1
            counters.push_gaps += event.gaps  # type: ignore[union-attr]
            name = PUSH_FINDINGS.get(event.finding)  # type: ignore[union-attr]
            if name is not None:
                setattr(counters, name, getattr(counters, name) + 1)
        elif kind is ProtocolFault:
            counters.protocol_errors += 1
            name = LEDGER_FAULTS.get(event.code)  # type: ignore[union-attr]
            if name is not None:
                setattr(self.ledger, name, getattr(self.ledger, name) + 1)
        elif kind is HelloAnswered:
            if event.info is not None:  # type: ignore[union-attr]
                counters.hellos_ok += 1
            else:
                counters.hellos_refused += 1
        elif kind is ConnectionClosed:
            counters.count_disconnect(event.code)  # type: ignore[union-attr]
            how = event.how  # type: ignore[union-attr]
            if how == PING_TIMEOUT:
                counters.ping_timeouts += 1
            elif how == WRITE_TIMEOUT:
                counters.write_timeouts += 1
