"""The line protocol between the supervisor and its workers over a socketpair.

Supervisor -> worker: ``snap`` (send a counters snapshot), ``stop`` (shut down
gracefully). Worker -> supervisor: ``ready``, ``snap {json}`` (answer to snap,
in order), ``final {json}`` (last counters, sent just before exiting).
EOF on either side means the peer is gone (a worker then shuts down).
"""

from __future__ import annotations

from typing import Any

from orjson import dumps, loads

SNAP = b"snap\n"
STOP = b"stop\n"
READY = b"ready\n"
KIND_SNAP = "snap"
KIND_FINAL = "final"
KIND_READY = "ready"


def stats_line(kind: str, stats: dict[str, Any]) -> bytes:
    """``kind {json}\\n`` for a snapshot or the final counters."""
    return kind.encode() + b" " + dumps(stats) + b"\n"


def parse_line(line: bytes) -> tuple[str, dict[str, Any] | None]:
    """(kind, stats or None) from one worker line; ValueError if garbled."""
    kind, _, rest = line.strip().partition(b" ")
    text = kind.decode("ascii")
    if text not in (KIND_SNAP, KIND_FINAL, KIND_READY):
        raise ValueError(f"unknown control line kind {text!r}")
    stats = loads(rest) if rest else None
    if stats is not None and not isinstance(stats, dict):
        raise ValueError("control line stats must be an object")
    return text, stats
