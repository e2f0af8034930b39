"""A connection's traffic not yet counted: messages, bytes, calls and hellos sent and received since the last fold."""

from __future__ import annotations


class Traffic:
    """What a connection sent and received since users/wire/tally.py last folded it into the process counters (it
    zeroes what it folds): plain slots, a few additions per message, no object per call or per read. ClientCore is
    one (its base class): the counts sit in the object every read and send touches anyway. The rarer counts
    (hellos, compressed bytes) are in `more`, made only when there are some: the fold looks at them then."""

    __slots__ = ("messages_sent", "bytes_sent", "calls_sent", "messages_received", "bytes_received", "more")

    def __init__(self, more: MoreTraffic | None = None) -> None:
        self.messages_sent = 0
        self.bytes_sent = 0
        self.calls_sent = 0
        """Calls queued (each also a message in `messages_sent`)."""
        self.messages_received = 0
        self.bytes_received = 0
        self.more = more

    def count_hello(self) -> None:
        """A hello was queued."""
        more = self.more
        if more is None:
            more = self.more = MoreTraffic()
        more.hellos_sent += 1


class MoreTraffic:
    """The rarer part of a connection's Traffic. A deflate connection's is made with it and kept (`kept`): its
    framers (users/wire/deflate.py) count compressed bytes into it; otherwise the fold drops it once counted."""

    __slots__ = ("hellos_sent", "bytes_sent_compressed", "bytes_received_compressed", "kept")

    def __init__(self, kept: bool = False) -> None:
        self.hellos_sent = 0
        self.bytes_sent_compressed = 0
        """With permessage-deflate: payload bytes of compressed messages as sent (bytes_sent counts them inflated)."""
        self.bytes_received_compressed = 0
        """With permessage-deflate: payload bytes of compressed messages as received."""
        self.kept = kept
