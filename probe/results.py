"""Pure case results: the four Autobahn behaviours, close behaviour, output lines, summary and exit code."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

OK, NON_STRICT, FAILED, INFORMATIONAL = "OK", "NON-STRICT", "FAILED", "INFORMATIONAL"
BEHAVIORS = (OK, NON_STRICT, FAILED, INFORMATIONAL)
CLOSE_OK, WRONG_CODE, UNCLEAN = "OK", "WRONG CODE", "UNCLEAN"


@dataclass(frozen=True)
class Outcome:
    """What one case found: its behaviour, what was seen, and how the connection ended."""

    behavior: str
    detail: str
    behavior_close: str = INFORMATIONAL
    remote_close_code: int | None = None

    def __post_init__(self) -> None:
        if self.behavior not in BEHAVIORS:
            raise ValueError(f"unknown behavior {self.behavior!r}")


@dataclass(frozen=True)
class CaseResult:
    """One case's outcome, with its id, title and duration."""

    case_id: str
    title: str
    outcome: Outcome
    duration_ms: int


def close_behavior(expected: int | None, got_close: bool, code: int | None, clean: bool) -> str:
    """Autobahn's behaviorClose: OK for the expected close done properly, WRONG CODE, or UNCLEAN (no close frame,
    or TCP left open); INFORMATIONAL when the case expects no close."""
    if expected is None:
        return INFORMATIONAL
    if not got_close:
        return UNCLEAN
    if code != expected:
        return WRONG_CODE
    return CLOSE_OK if clean else UNCLEAN


def expected_close(wanted: int, got_close: bool, code: int | None, end: str, clean: bool, seen: str) -> Outcome:
    """The outcome of a case whose server must close with `wanted`: `end` is how TCP ended ('' still open),
    `seen` what else came before."""
    behavior_close = close_behavior(wanted, got_close, code, clean)
    after = f"; before it: {seen}" if seen else ""
    if got_close and code == wanted:
        how = "closing handshake completed" if clean else "but the server did not end TCP after the handshake"
        behavior = OK if clean else NON_STRICT
        return Outcome(behavior, f"closed {code}, {how}{after}", behavior_close, code)
    if got_close:
        return Outcome(FAILED, f"closed {code}, expected {wanted}{after}", behavior_close, code)
    if end:
        return Outcome(NON_STRICT, f"TCP ended ({end}) without a close frame, expected close {wanted}{after}",
                       behavior_close)  # fmt: skip
    return Outcome(FAILED, f"no close within the case's time, expected close {wanted}{after}", behavior_close)


def exit_code(results: Iterable[CaseResult]) -> int:
    """1 when any case FAILED, else 0."""
    return 1 if any(r.outcome.behavior == FAILED for r in results) else 0


def case_line(result: CaseResult) -> str:
    """`OK            1.1  handshake: what was seen`."""
    return f"{result.outcome.behavior:<13} {result.case_id:<5} {result.title}: {result.outcome.detail}"


def summary_line(results: Sequence[CaseResult], shown_target: str) -> str:
    """`summary: 24 cases against ws://host:port/: 23 OK, 1 NON-STRICT, 0 FAILED, 0 INFORMATIONAL`."""
    counts = ", ".join(f"{sum(r.outcome.behavior == b for r in results)} {b}" for b in BEHAVIORS)
    return f"summary: {len(results)} cases against {shown_target}: {counts}"


def case_key(case_id: str) -> tuple[int, ...]:
    """Sort key of a dotted case id: 1.10 after 1.9."""
    return tuple(int(part) for part in case_id.split("."))


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret (token, JWT secret) replaced by ***; longest first, so no piece survives."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text
