"""Per-process WebSocket counters (messages, bytes, connections, pushes) beside the call ledger."""

from __future__ import annotations

from dataclasses import dataclass, field

from users.correlation import CallLedger


@dataclass
class WsCounters:
    """Monotonic counters of one load-generator process, plus gauges of what is open now."""

    calls: CallLedger = field(default_factory=CallLedger)
    messages_sent: int = 0
    messages_received: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    connects: int = 0
    reconnects: int = 0
    connect_failures: int = 0
    disconnects: int = 0
    connections_open: int = 0
    hellos_ok: int = 0
    hellos_refused: int = 0
    pushes_received: int = 0
    protocol_errors: int = 0

    def snapshot(self) -> dict[str, int]:
        """All counters as a flat dict (call counts prefixed `calls_`)."""
        flat = {f"calls_{k}": v for k, v in self.calls.as_dict().items()}
        for name in (
            "messages_sent",
            "messages_received",
            "bytes_sent",
            "bytes_received",
            "connects",
            "reconnects",
            "connect_failures",
            "disconnects",
            "connections_open",
            "hellos_ok",
            "hellos_refused",
            "pushes_received",
            "protocol_errors",
        ):
            flat[name] = getattr(self, name)
        return flat
