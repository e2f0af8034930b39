"""Per-process WebSocket counters (messages, bytes, connections, pushes) beside the call ledger."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from users.wire.correlation import CallLedger
from users.wire.frames import CLOSE_GOING_AWAY, CLOSE_NORMAL
from users.wire.server_names import NameBudget


@dataclass
class WsCounters:
    """Monotonic counters of one load-generator process, plus gauges (connections_open, schedule_lag_ms:
    the worst lag behind the rate schedule since the last metrics row, rate_target, active_users, and
    users_sending_peak: the most distinct users seen sending within one 100 ms sample since the last row).

    Every disconnect is counted once by how the connection ended: `closes_normal` (close code 1000),
    `closes_going_away` (1001), `closes_error` (any other close code, sent or received) or `resets` (no close
    frame either way: TCP reset or EOF, or given up by the client on a ping or write timeout)."""

    calls: CallLedger = field(default_factory=CallLedger)
    messages_sent: int = 0
    messages_received: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    bytes_sent_compressed: int = 0
    """With --compression deflate: payload bytes of compressed messages as sent (bytes_sent counts them inflated)."""
    bytes_received_compressed: int = 0
    """With --compression deflate: payload bytes of compressed messages as received (bytes_received: inflated)."""
    connects: int = 0
    reconnects: int = 0
    connect_failures: int = 0
    disconnects: int = 0
    connections_open: int = 0
    hellos_sent: int = 0
    hellos_ok: int = 0
    hellos_refused: int = 0
    tokens_minted: int = 0
    pushes_received: int = 0
    push_gaps: int = 0
    push_duplicates: int = 0
    push_reordered: int = 0
    pushes_untracked: int = 0
    """Pushes with a seq not sequence-tracked: their topic came after the first 1024 of a connection."""
    protocol_errors: int = 0
    ping_timeouts: int = 0
    write_timeouts: int = 0
    write_stalls: int = 0
    """Connections given up because a user stopped while its write was blocked (the server not reading)."""
    closes_normal: int = 0
    closes_going_away: int = 0
    closes_error: int = 0
    resets: int = 0
    storm_drops: int = 0
    reconnect_attempts: int = 0
    sessions: int = 0
    """With --session-calls: sessions that made their calls and closed with 1000 (their user then connects again)."""
    sessions_late: int = 0
    """Churn stages: sessions that started more than 10 ms after their scheduled start (every user was busy)."""
    calls_sent_late: int = 0
    calls_skipped: int = 0
    schedule_lag_ms: float = 0.0
    rate_target: float = 0.0
    active_users: int = 0
    users_sending_peak: int = 0
    sending: set[int] = field(default_factory=set, repr=False)
    """Slots of users that sent since the last 100 ms sample (its size feeds users_sending_peak)."""
    names: NameBudget = field(default_factory=NameBudget, repr=False)
    """The caps on names made of server strings (users/wire/server_names.py); its `overflowed` is a column."""

    def count_disconnect(self, code: int | None) -> None:
        """A connection ended with close `code` (the server's, else the one sent; None: no close frame)."""
        self.connections_open -= 1
        self.disconnects += 1
        if code is None:
            self.resets += 1
        elif code == CLOSE_NORMAL:
            self.closes_normal += 1
        elif code == CLOSE_GOING_AWAY:
            self.closes_going_away += 1
        else:
            self.closes_error += 1

    def snapshot(self) -> dict[str, int]:
        """All counters as a flat dict (call counts prefixed `calls_`)."""
        flat = {f"calls_{k}": v for k, v in self.calls.as_dict().items()}
        for name in _FLAT_FIELDS:
            flat[name] = getattr(self, name)
        flat["server_names_overflowed"] = self.names.overflowed
        return flat


_FLAT_FIELDS = [f.name for f in fields(WsCounters) if f.name not in ("calls", "sending", "names")]
