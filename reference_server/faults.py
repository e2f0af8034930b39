"""Pure fault-injection model: the fault state, validation of control bodies, quotas, garbage answers.

No I/O and no clock: the worker applies these (``injector``), the supervisor validates
HTTP bodies and CLI values with them, and tests use them without sockets.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from http import HTTPStatus
from typing import Any, Final

from orjson import dumps, loads

GARBAGE_KINDS: Final = (
    "not_json",
    "not_object",
    "missing_request_id",
    "unknown_request_id",
    "duplicate_result",
    "binary_frame",
    "invalid_utf8",
    "oversize",
)
#: Garbage kinds that send the real answer too (the call still counts as answered).
KEEPS_ANSWER: Final = frozenset({"duplicate_result"})
DROP_MODES: Final = ("close", "reset")
DEFAULT_DROP_CODE: Final = 1012
DEFAULT_OVERSIZE_BYTES: Final = 2 * 1024 * 1024
MIN_OVERSIZE_BYTES: Final = 1024
MAX_OVERSIZE_BYTES: Final = 64 * 1024 * 1024
MAX_DELAY_MS: Final = 600_000.0
MAX_DROP_RATE: Final = 10_000.0
#: Close codes a server may send (RFC 6455 7.4): the registered ones plus 3000-4999.
SENDABLE_CLOSE_CODES: Final = frozenset({1000, 1001, 1002, 1003, *range(1007, 1015)})
UNKNOWN_ID_PREFIX: Final = "fault-injected-unknown-"
INVALID_UTF8: Final = b"\xff\xfe\xc3("


class FaultError(ValueError):
    """A bad fault value; ``field`` names the body key, ``str()`` is ``"field: message"``."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Faults:
    """The ongoing faults of the server; the default is no fault at all.

    - ``delay_ms``: every tool answer (``tool_result``) is sent this much later.
    - ``stall``: calls are read and counted (``calls_received``) but neither run nor
      answered; answers still pending when it is set are withheld too, and so are
      ``list_tools`` answers. Hello is still answered; push streams keep running.
      Withheld calls stay unanswered after the stall ends (``calls_unanswered`` once
      their connection closes).
    - ``stall_hello``: ``hello`` is never answered; the connection then ignores
      everything it receives (no hello timeout either). Independent of ``stall``.
    - ``garbage_fraction`` of tool answers are replaced by a malformed answer of
      ``garbage_kind`` (see ``garbage_frames``); ``oversize_bytes`` sizes "oversize".
    - ``drop_rate``: connections/s (over all workers) closed with 1012, at random.
    - ``handshake_status``: 0, or the HTTP status new WebSocket handshakes are refused with.
    """

    delay_ms: float = 0.0
    stall: bool = False
    stall_hello: bool = False
    garbage_fraction: float = 0.0
    garbage_kind: str = "not_json"
    oversize_bytes: int = DEFAULT_OVERSIZE_BYTES
    drop_rate: float = 0.0
    handshake_status: int = 0

    @property
    def affects_answers(self) -> bool:
        """True when tool answers need the slow path (delay, stall or garbage)."""
        return self.delay_ms > 0 or self.stall or self.garbage_fraction > 0

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (every field, in declaration order)."""
        return asdict(self)

    def updated(self, changes: Mapping[str, Any]) -> Faults:
        """A copy with ``changes`` applied (omitted keys keep their value); FaultError if invalid."""
        known = {f.name for f in fields(self)}
        for key in changes:
            if key not in known:
                raise FaultError(str(key), f"unknown fault (known: {', '.join(sorted(known))})")
        values = {key: _VALIDATORS[key](key, value) for key, value in changes.items()}
        return replace(self, **values)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Faults:
        """Faults from their JSON form (validated)."""
        return cls().updated(data)


@dataclass(frozen=True)
class DropRequest:
    """A validated ``POST /control/drop`` body."""

    fraction: float
    mode: str = "close"
    code: int = DEFAULT_DROP_CODE


def parse_drop(body: Mapping[str, Any]) -> DropRequest:
    """Validate a drop body ``{"fraction": F, "mode": "close"|"reset", "code": C}``; FaultError."""
    for key in body:
        if key not in ("fraction", "mode", "code"):
            raise FaultError(str(key), "unknown field (known: code, fraction, mode)")
    if "fraction" not in body:
        raise FaultError("fraction", "required: a number between 0 and 1")
    fraction = _fraction("fraction", body["fraction"])
    mode = body.get("mode", "close")
    if mode not in DROP_MODES:
        raise FaultError("mode", f"must be one of {', '.join(DROP_MODES)}")
    code = body.get("code", DEFAULT_DROP_CODE)
    if type(code) is not int or not (code in SENDABLE_CLOSE_CODES or 3000 <= code <= 4999):
        raise FaultError("code", "must be a sendable close code: 1000-1003, 1007-1014 or 3000-4999")
    return DropRequest(fraction, mode, code)


def quota(count: int, fraction: float) -> int:
    """How many of ``count`` connections ``fraction`` means: rounded half up, never more than ``count``."""
    return min(count, math.floor(count * fraction + 0.5 + 1e-9))


def split_quota(counts: Sequence[int], fraction: float) -> list[int]:
    """Per-worker drop counts summing to ``quota(sum(counts), fraction)``.

    Largest remainders: each worker gets the floor of its share, the rest go one by
    one to the workers with the largest fractional parts (ties: lower index first).
    """
    target = quota(sum(counts), fraction)
    shares = [c * fraction for c in counts]
    out = [min(c, math.floor(s + 1e-9)) for c, s in zip(counts, shares, strict=True)]
    order = sorted(range(len(counts)), key=lambda i: (-(shares[i] - out[i]), i))
    missing = target - sum(out)
    for i in order * 2:  # a second pass in case a worker was already full
        if missing <= 0:
            break
        if out[i] < counts[i]:
            out[i] += 1
            missing -= 1
    return out


def garbage_frames(
    kind: str, answer: bytes, serial: int, oversize_bytes: int, id_key: str = "request_id"
) -> list[tuple[bool, bytes]]:
    """The frames that replace (or, for duplicate_result, follow) the tool answer ``answer``.

    ``id_key`` is the answer's request id field (``request_id``; ``id`` for JSON-RPC and MCP).

    Returns ``[(is_binary, payload), ...]``:

    - ``not_json``: the answer with its closing brace cut off.
    - ``not_object``: the answer wrapped in a JSON array.
    - ``missing_request_id``: the answer without its ``request_id``.
    - ``unknown_request_id``: the answer with ``request_id`` ``fault-injected-unknown-<serial>``.
    - ``duplicate_result``: the answer, twice.
    - ``binary_frame``: the answer in a binary frame.
    - ``invalid_utf8``: the answer with an extra ``"garbage"`` string holding invalid UTF-8.
    - ``oversize``: the answer with a ``"padding"`` string making the text frame exactly
      ``oversize_bytes`` long (or a little longer if the answer alone is longer).
    """
    if kind == "not_json":
        return [(False, answer[:-1])]
    if kind == "not_object":
        return [(False, b"[" + answer + b"]")]
    if kind == "duplicate_result":
        return [(False, answer), (False, answer)]
    if kind == "binary_frame":
        return [(True, answer)]
    if kind == "invalid_utf8":
        return [(False, answer[:-1] + b',"garbage":"' + INVALID_UTF8 + b'"}')]
    message = loads(answer)
    if kind == "missing_request_id":
        message.pop(id_key, None)
        return [(False, dumps(message))]
    if kind == "unknown_request_id":
        message[id_key] = f"{UNKNOWN_ID_PREFIX}{serial}"
        return [(False, dumps(message))]
    if kind == "oversize":
        message["padding"] = ""
        envelope = len(dumps(message))
        message["padding"] = "x" * max(0, oversize_bytes - envelope)
        return [(False, dumps(message))]
    raise ValueError(f"unknown garbage kind {kind!r}")


# ---- validators (field name, raw JSON value) -> value ---------------------------------


def _number(field: str, value: Any, low: float, high: float) -> float:
    if type(value) not in (int, float) or not math.isfinite(value) or not low <= value <= high:
        raise FaultError(field, f"must be a number between {low:g} and {high:g}")
    return float(value)


def _fraction(field: str, value: Any) -> float:
    return _number(field, value, 0.0, 1.0)


def _bool(field: str, value: Any) -> bool:
    if type(value) is not bool:
        raise FaultError(field, "must be true or false")
    return value


def _delay(field: str, value: Any) -> float:
    return _number(field, value, 0.0, MAX_DELAY_MS)


def _drop_rate(field: str, value: Any) -> float:
    return _number(field, value, 0.0, MAX_DROP_RATE)


def _kind(field: str, value: Any) -> str:
    if value not in GARBAGE_KINDS:
        raise FaultError(field, f"must be one of {', '.join(GARBAGE_KINDS)}")
    return str(value)


def _oversize(field: str, value: Any) -> int:
    if type(value) is not int or not MIN_OVERSIZE_BYTES <= value <= MAX_OVERSIZE_BYTES:
        raise FaultError(field, f"must be an integer between {MIN_OVERSIZE_BYTES} and {MAX_OVERSIZE_BYTES}")
    return value


def _status(field: str, value: Any) -> int:
    if type(value) is not int or not (value == 0 or (400 <= value <= 599 and value in _HTTP_STATUSES)):
        raise FaultError(field, "must be 0 (off) or an HTTP error status such as 401, 403, 500 or 503")
    return value


_HTTP_STATUSES: Final = frozenset(int(s) for s in HTTPStatus)
_VALIDATORS: Final = {
    "delay_ms": _delay,
    "stall": _bool,
    "stall_hello": _bool,
    "garbage_fraction": _fraction,
    "garbage_kind": _kind,
    "oversize_bytes": _oversize,
    "drop_rate": _drop_rate,
    "handshake_status": _status,
}
