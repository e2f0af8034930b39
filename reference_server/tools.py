"""The reference tools (echo, sleep, compute, payload, fail, subscribe, broadcast).

A tool is ``run(session, request_id, arguments)``: it returns the result right away,
raises ToolError, or hands work to the session and returns PENDING (the session then
answers later). Tools never touch sockets; ``Session`` is the connection's narrow face.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from hashlib import sha256
from typing import Any, Final, Protocol

#: Returned by a tool that will be answered later through the session.
PENDING: Final = object()

MAX_SLEEP_MS: Final = 600_000
MAX_COMPUTE_ROUNDS: Final = 1_000_000
#: compute runs inline up to this many rounds; above it yields to the event loop in chunks.
COMPUTE_CHUNK: Final = 2_000
MAX_PAYLOAD_BYTES: Final = 4 * 1024 * 1024
MAX_SUBSCRIBE_RATE: Final = 100_000.0
MAX_SUBSCRIBE_COUNT: Final = 10_000_000
MAX_STREAMS_PER_CONNECTION: Final = 64
"""Push streams one connection may run at once (an endless one lasts as long as its connection)."""
MAX_TOPIC_LENGTH: Final = 256
COMPUTE_SEED: Final = b"reference_server"
_CODE_RE: Final = re.compile(r"[a-z][a-z0-9_]{0,63}")


class ToolError(Exception):
    """A tool answered ``ok: false`` with ``code`` and a human ``message``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Session(Protocol):
    """What a tool may ask of the connection that called it."""

    def answer_after(self, request_id: str, delay_s: float, result: Any) -> None:
        """Answer ``result`` after ``delay_s`` seconds without blocking other calls."""

    def answer_with(self, request_id: str, work: Coroutine[Any, Any, Any]) -> None:
        """Answer with what ``work`` returns (or the ToolError it raises)."""

    def subscribe(self, topic: str, rate: float, count: int | None) -> None:
        """Register for broadcasts on ``topic`` and push ``count`` events at ``rate``/s (None: until the connection
        ends); ToolError when the connection runs MAX_STREAMS_PER_CONNECTION streams already."""

    def broadcast(self, topic: str, data: Any) -> int:
        """Push ``data`` to every subscriber of ``topic`` in this process; return how many."""


ToolFn = Callable[[Session, str, dict[str, Any]], Any]


@dataclass(frozen=True)
class Tool:
    """A named tool with its one-line description."""

    name: str
    description: str
    run: ToolFn


def _invalid(message: str) -> ToolError:
    return ToolError("invalid_arguments", message)


def int_arg(args: dict[str, Any], name: str, low: int, high: int) -> int:
    """A required integer argument in [low, high]."""
    value = args.get(name)
    if type(value) is not int:
        raise _invalid(f"{name} must be an integer")
    if not low <= value <= high:
        raise _invalid(f"{name} must be between {low} and {high}")
    return value


def number_arg(args: dict[str, Any], name: str, low: float, high: float) -> float:
    """A required finite number argument in [low, high]."""
    value = args.get(name)
    if type(value) not in (int, float) or not math.isfinite(value):
        raise _invalid(f"{name} must be a number")
    if not low <= value <= high:
        raise _invalid(f"{name} must be between {low:g} and {high:g}")
    return value


def topic_arg(args: dict[str, Any]) -> str:
    """The required non-empty ``topic`` string."""
    topic = args.get("topic")
    if type(topic) is not str or not topic or len(topic) > MAX_TOPIC_LENGTH:
        raise _invalid(f"topic must be a non-empty string of at most {MAX_TOPIC_LENGTH} characters")
    return topic


def compute_digest(rounds: int) -> str:
    """Hex digest after ``rounds`` rounds of SHA-256 starting from a fixed seed."""
    digest = sha256(COMPUTE_SEED).digest()
    for _ in range(rounds):
        digest = sha256(digest).digest()
    return digest.hex()


async def compute_digest_async(rounds: int) -> str:
    """compute_digest in chunks, yielding to the event loop between them."""
    digest = sha256(COMPUTE_SEED).digest()
    remaining = rounds
    while remaining > 0:
        for _ in range(min(COMPUTE_CHUNK, remaining)):
            digest = sha256(digest).digest()
        remaining -= COMPUTE_CHUNK
        await asyncio.sleep(0)
    return digest.hex()


def echo(session: Session, request_id: str, args: dict[str, Any]) -> Any:
    """Return the arguments unchanged."""
    return args


def sleep(session: Session, request_id: str, args: dict[str, Any]) -> Any:
    """Answer after ``ms`` milliseconds."""
    ms = number_arg(args, "ms", 0, MAX_SLEEP_MS)
    session.answer_after(request_id, ms / 1000.0, {"slept_ms": ms})
    return PENDING


def compute(session: Session, request_id: str, args: dict[str, Any]) -> Any:
    """Repeated SHA-256; returns the hex digest."""
    rounds = int_arg(args, "rounds", 0, MAX_COMPUTE_ROUNDS)
    if rounds <= COMPUTE_CHUNK:
        return compute_digest(rounds)
    session.answer_with(request_id, compute_digest_async(rounds))
    return PENDING


def payload(session: Session, request_id: str, args: dict[str, Any]) -> Any:
    """A string of ``bytes`` ASCII bytes."""
    return "x" * int_arg(args, "bytes", 0, MAX_PAYLOAD_BYTES)


def fail(session: Session, request_id: str, args: dict[str, Any]) -> Any:
    """Answer ok:false with the given ``code`` (default tool_failed) and ``message``."""
    code = args.get("code", "tool_failed")
    message = args.get("message", "failed on request")
    if type(code) is not str or not _CODE_RE.fullmatch(code):
        raise _invalid("code must match [a-z][a-z0-9_]{0,63}")
    if type(message) is not str:
        raise _invalid("message must be a string")
    raise ToolError(code, message)


def subscribe(session: Session, request_id: str, args: dict[str, Any]) -> Any:
    """Start a push stream of ``count`` events at ``rate`` events/s on ``topic``; without ``count`` it runs until the
    connection ends; without ``rate`` (or 0) the connection only joins ``topic``'s broadcasts."""
    topic = topic_arg(args)
    rate = number_arg(args, "rate", 0, MAX_SUBSCRIBE_RATE) if "rate" in args else 0
    count = int_arg(args, "count", 0, MAX_SUBSCRIBE_COUNT) if "count" in args else None
    if rate <= 0 and count:
        raise _invalid("rate must be positive")
    session.subscribe(topic, rate, count)
    return {"topic": topic, "rate": rate, "count": count}


def broadcast(session: Session, request_id: str, args: dict[str, Any]) -> Any:
    """Push ``data`` to every subscriber of ``topic`` in this server process."""
    topic = topic_arg(args)
    return {"delivered": session.broadcast(topic, args.get("data"))}


def reference_tools() -> dict[str, Tool]:
    """The tool table, in the order list_tools shows it."""
    tools = [
        Tool("echo", "returns its arguments", echo),
        Tool("sleep", "answers after `ms` milliseconds without blocking other calls", sleep),
        Tool("compute", f"`rounds` rounds (<= {MAX_COMPUTE_ROUNDS}) of SHA-256; returns the hex digest", compute),
        Tool("payload", f"returns a string of `bytes` bytes (<= {MAX_PAYLOAD_BYTES})", payload),
        Tool("fail", "answers ok:false with the given `code` and `message`", fail),
        Tool(
            "subscribe",
            "pushes `count` events on `topic` at `rate` events/s (no count: until the connection "
            "ends); joins broadcasts",
            subscribe,
        ),
        Tool("broadcast", "pushes `data` to every subscriber of `topic`; returns {delivered}", broadcast),
    ]
    return {tool.name: tool for tool in tools}
