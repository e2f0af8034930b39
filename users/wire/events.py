"""Pure typed events the client core returns: hello answered, push received, protocol fault, connection closed.

A settled call is reported as its own `PendingCall` (users/wire/correlation.py), its outcome filled in: one object
per call instead of two on the hot path.
"""

from __future__ import annotations

from dataclasses import dataclass

from users.wire.correlation import PendingCall
from users.wire.errors import HelloRefused
from users.wire.protocol import HelloOk, PushEvent

PING_TIMEOUT = "ping_timeout"
"""A ConnectionClosed's `how` when no pong came in time (also a ProtocolFault's code)."""
WRITE_TIMEOUT = "write_timeout"
"""A ConnectionClosed's `how` when a write stayed blocked past the call timeout."""


@dataclass(slots=True)
class HelloAnswered:
    """The hello was answered (`info`), refused, timed out or lost (`failure`), `seconds` after it was sent."""

    info: HelloOk | None
    failure: HelloRefused | None
    seconds: float


@dataclass(slots=True)
class PushReceived:
    """A server-push event of `length` bytes, one per push: `finding` is what sequence tracking found ("ok", "gap",
    "duplicate", "reordered", "untracked", "unsequenced": users/wire/push_tracking.py), `gaps` what it changed the
    missing seqs by."""

    event: PushEvent
    length: int
    finding: str = "ok"
    gaps: int = 0

    @property
    def timed(self) -> bool:
        """Reported as a request event: it carries the server's send time, or it is a notification (no seq)."""
        event = self.event
        return event.sent_at_ns is not None or event.seq is None


@dataclass(slots=True)
class ProtocolFault:
    """The server broke the protocol (`code`: bad_json, unknown_request_id, late_result, ping_timeout, ...)."""

    code: str


@dataclass(slots=True)
class ConnectionClosed:
    """The connection ended: `code` is the close code (the server's, else the one sent; None without any close
    frame), `how` the detail lost calls carry (`close 1011 overloaded`, `reset`, `eof`, `ping_timeout`,
    `write_timeout`)."""

    code: int | None
    reason: str
    how: str

    @property
    def clean(self) -> bool:
        """Closed with 1000 (normal closure)."""
        return self.code == 1000


CoreEvent = HelloAnswered | PendingCall | PushReceived | ProtocolFault | ConnectionClosed
"""Anything `ClientCore.events_received()` returns."""
