"""The line protocol between the supervisor and its workers over a socketpair.

Supervisor -> worker: ``snap`` (send a counters snapshot), ``stop`` (shut down
gracefully), and the fault-injection commands ``faults {json}`` (replace the fault
state with this one), ``count`` (how many connections could be dropped now) and
``drop {json}`` (``{"count": N or null for all, "mode": ..., "code": ...}``).
Worker -> supervisor: ``ready``, ``snap {json}`` (answer to snap), ``reply {json}``
(answer to a command: ``{}``, ``{"droppable": N}``, ``{"dropped": N}``, or
``{"error": "..."}``), ``final {json}`` (last counters, sent just before exiting).
Every snap and command gets exactly one answer line, in order. EOF on either side
means the peer is gone (a worker then shuts down).
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
KIND_REPLY = "reply"
CMD_FAULTS = "faults"
CMD_COUNT = "count"
CMD_DROP = "drop"
COMMANDS = (CMD_FAULTS, CMD_COUNT, CMD_DROP)


def stats_line(kind: str, stats: dict[str, Any]) -> bytes:
    """``kind {json}\\n`` for a snapshot or the final counters."""
    return kind.encode() + b" " + dumps(stats) + b"\n"


def parse_line(line: bytes) -> tuple[str, dict[str, Any] | None]:
    """(kind, stats or None) from one worker line; ValueError if garbled."""
    kind, _, rest = line.strip().partition(b" ")
    text = kind.decode("ascii")
    if text not in (KIND_SNAP, KIND_FINAL, KIND_READY, KIND_REPLY):
        raise ValueError(f"unknown control line kind {text!r}")
    stats = loads(rest) if rest else None
    if stats is not None and not isinstance(stats, dict):
        raise ValueError("control line stats must be an object")
    return text, stats


def command_line(name: str, payload: dict[str, Any] | None = None) -> bytes:
    """``name [{json}]\n``: one command for a worker."""
    if name not in COMMANDS:
        raise ValueError(f"unknown command {name!r}")
    return name.encode() + (b" " + dumps(payload) if payload is not None else b"") + b"\n"


def parse_command(line: bytes) -> tuple[str, dict[str, Any]]:
    """(name, payload or {}) from one supervisor command line; ValueError if garbled."""
    name, _, rest = line.strip().partition(b" ")
    text = name.decode("ascii", "replace")
    if text not in COMMANDS:
        raise ValueError(f"unknown command {text!r}")
    payload = loads(rest) if rest else {}
    if not isinstance(payload, dict):
        raise ValueError("command payload must be an object")
    return text, payload


def reply_line(payload: dict[str, Any]) -> bytes:
    """``reply {json}\n``: a worker's answer to one command."""
    return stats_line(KIND_REPLY, payload)
