"""What every protocol codec gives the session machine: the request kinds and the codec's interface (pure)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, Protocol

#: A decoded request is a 4-tuple (kind, a, b, c); the kinds and their fields:
#: a tool call: (CALL, request_id, tool name, arguments); after the handshake ``decode`` hands
#: a tool call to its ``on_call`` instead (no tuple on the hot path)
CALL: Final = 0
#: a call answered without running a tool, counted in calls_received: (REFUSED_CALL, answer bytes, error code, None)
REFUSED_CALL: Final = 1
#: the same, also counted in bad_messages: (BAD_CALL, answer bytes, error code, None)
BAD_CALL: Final = 2
#: a bad message that is not a call (bad_messages): (BAD, error bytes, None, None)
BAD: Final = 3
#: the tool list, unless the stall fault withholds it: (LIST_TOOLS, answer bytes, None, None)
LIST_TOOLS: Final = 4
#: an answer that is neither counted nor withheld (MCP's ping): (REPLY, bytes, None, None)
REPLY: Final = 5
#: nothing to do (notifications, answers to our pings): (IGNORE, None, None, None)
IGNORE: Final = 6
#: not UTF-8 text: bad_messages, close 1007: (INVALID_UTF8, None, None, None)
INVALID_UTF8: Final = 7
#: the handshake: (HELLO, token to verify or None for the upgrade's grant, answer bytes, None)
HELLO: Final = 8
#: a malformed handshake, refused with bad_message: (BAD_HELLO, error bytes, None, None)
BAD_HELLO: Final = 9
#: anything else before the handshake: refused with hello_required: (NOT_HELLO, None, None, None)
NOT_HELLO: Final = 10

Request = tuple[int, Any, Any, Any]
OnCall = Callable[[Any, str, dict[str, Any]], None]

IGNORED: Final[Request] = (IGNORE, None, None, None)
NOT_A_HELLO: Final[Request] = (NOT_HELLO, None, None, None)
NOT_UTF8: Final[Request] = (INVALID_UTF8, None, None, None)


class Codec(Protocol):
    """One wire protocol's messages: bytes in -> requests out, answers -> bytes out (no state, no I/O)."""

    #: The key of an answer's request id (the garbage faults remove or replace it).
    ID_KEY: str
    #: The subprotocol the upgrade must offer and the answer names (None: none).
    SUBPROTOCOL: str | None
    #: True when calls wait for a handshake message (hello, initialize); False: open once upgraded.
    HANDSHAKE: bool
    #: True when the server sends its own keepalive requests (``ping``) every ``--mcp-ping-interval``.
    PINGS: bool
    #: The reason of a hello_required refusal.
    HELLO_REQUIRED: str

    def decode(self, data: bytes | bytearray | memoryview, on_call: OnCall) -> Request | None:
        """One text message after the handshake: a tool call goes to ``on_call(request_id, name, arguments)``
        (None returned), anything else comes back as a request."""

    def decode_opening(self, data: bytes | bytearray | memoryview) -> Request:
        """One text message before the handshake."""

    def binary(self, opening: bool) -> Request:
        """A binary message (before the handshake when ``opening``)."""

    def ok(self, request_id: Any, result: Any) -> bytes:
        """A tool's result (raises orjson.JSONEncodeError for unencodable ones)."""

    def error(self, request_id: Any, code: str, message: str) -> bytes:
        """A call that failed with our error ``code``."""

    def refusal(self, code: str, message: str) -> bytes:
        """The refusal of a handshake (or of a message before it)."""

    def event(self, topic: str, seq: int, sent_at_ns: int, data: Any) -> bytes:
        """A push."""

    def ping(self, serial: int) -> bytes | None:
        """The server's own keepalive request number ``serial`` (None: the protocol has none)."""
