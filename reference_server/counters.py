"""Per-process server counters, their JSON form, and summing snapshots across workers."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

#: Plain integer counters, in the order they appear in the JSON form.
INT_FIELDS: tuple[str, ...] = (
    "connections_opened",
    "connections_closed",
    "hello_ok",
    "hellos_unanswered",
    "calls_received",
    "results_ok",
    "calls_unanswered",
    "bad_messages",
    "pushes_sent",
    "bytes_in",
    "bytes_out",
    "handshakes_rejected_busy",
    "handshakes_timed_out",
    "connections_rejected_busy",
    "writes_paused",
    "tls_sessions_resumed",
)
#: Counters broken down by a key (objects: protocol error code, drop mode, HTTP status
#: or garbage kind -> count).
CODE_FIELDS: tuple[str, ...] = (
    "hello_refused",
    "results_error",
    "connections_dropped",
    "handshakes_refused",
    "faults_injected",
    "slow_clients_closed",
)
#: Every key of a stats snapshot, in JSON order.
STATS_KEYS: tuple[str, ...] = (
    "connections_opened",
    "connections_closed",
    "hello_ok",
    "hello_refused",
    "hellos_unanswered",
    "calls_received",
    "results_ok",
    "results_error",
    "calls_unanswered",
    "bad_messages",
    "pushes_sent",
    "bytes_in",
    "bytes_out",
    "connections_dropped",
    "handshakes_refused",
    "faults_injected",
    "handshakes_rejected_busy",
    "handshakes_timed_out",
    "connections_rejected_busy",
    "writes_paused",
    "slow_clients_closed",
    "tls_sessions_resumed",
)


class Counters:
    """What one server process has done so far; plain attributes so the hot path stays cheap.

    Semantics (kept exact so a load test can compare them to its own counts):

    - ``connections_opened`` / ``connections_closed``: WebSocket connections whose
      opening handshake completed / that have since disconnected (for any reason).
    - ``hello_ok``: hellos accepted. ``hello_refused``: code -> count of hellos (or
      pre-hello messages and hello timeouts) answered with an ``error`` and close 1008.
      With ``--protocol jsonrpc`` / ``mcp``: bearer tokens accepted at the upgrade
      (mcp: ``initialize`` accepted) / upgrades refused with HTTP 401 or 400.
    - ``calls_received``: ``call_tool`` messages carrying a usable string ``request_id``
      (including malformed ones, which are answered ``bad_message``). Each gets exactly
      one ``tool_result``, counted in ``results_ok`` or ``results_error[code]``, or is
      counted in ``calls_unanswered``.
    - ``calls_unanswered``: calls that will never get a well-formed answer: still
      unanswered when their connection closed (however it closed: client, drop fault,
      shutdown grace over, stall), or whose answer was replaced by a garbage answer
      (every garbage kind except ``duplicate_result``, which sends the real answer too).
      So at quiescence ``calls_received == results_ok + sum(results_error) +
      calls_unanswered + calls still in flight`` (in flight: pending tools, delayed
      answers and stalled calls on connections still open).
    - ``bad_messages``: messages answered with code ``bad_message`` (as an ``error`` op,
      as a ``tool_result``, or as the refusal of an ill-formed hello), plus text that is
      not UTF-8 (closed with 1007). Before hello, anything but a hello (binary, non-JSON,
      other ops) is counted in ``hello_refused["hello_required"]`` instead.
    - ``hellos_unanswered``: hellos received while the ``stall_hello`` fault was on
      (never answered).
    - ``list_tools`` requests are not calls; only their bytes are counted.
    - ``pushes_sent``: ``event`` messages sent (stream and broadcast).
    - ``bytes_in`` / ``bytes_out``: application payload bytes of WebSocket *text*
      frames (continuation frames of a text message included) received / sent. Not
      counted: frame headers, control frames (ping, pong, close), binary frames and the
      HTTP upgrade handshake.
    - Fault injection: ``connections_dropped`` (mode ``close``/``reset`` -> connections
      closed by ``/control/drop`` or ``drop_rate``, which counts as ``close``),
      ``handshakes_refused`` (HTTP status -> WebSocket handshakes refused by the
      ``handshake_status`` fault; these connections are not in ``connections_opened``),
      ``faults_injected`` (garbage kind -> garbage answers sent).
    - Hardening (none of these connections is in ``connections_opened``, except for
      ``writes_paused`` and ``slow_clients_closed``): ``handshakes_rejected_busy``: TCP
      connections closed as soon as they were accepted because ``--max-pending-handshakes``
      connections were already in their HTTP upgrade; ``handshakes_timed_out``: connections
      aborted for not completing their upgrade request within ``--handshake-timeout``;
      ``connections_rejected_busy``: upgrades completed and then closed at once with 1013
      because ``--max-connections`` were open; ``writes_paused``: times a connection's
      outgoing buffer crossed its high-water mark (the server then stops reading that client
      until the buffer drains); ``slow_clients_closed`` (reason -> count): connections
      closed with 1008 because their outgoing buffer stayed over the high-water mark for
      ``--send-timeout`` (``send_timeout``) or was over ``--max-send-buffer-bytes`` when
      another message was due (``send_buffer_limit``). Messages such a client sent that
      were still waiting to be read are dropped with it and not counted as calls.
    - ``tls_sessions_resumed`` (wss:// only): admitted connections whose TLS handshake
      resumed an earlier session (the client offered a ticket the server accepted, so no
      certificate was sent); counted when the connection is accepted, before its upgrade.
    """

    __slots__ = INT_FIELDS + CODE_FIELDS

    def __init__(self) -> None:
        self.connections_opened = 0
        self.connections_closed = 0
        self.hello_ok = 0
        self.hellos_unanswered = 0
        self.calls_received = 0
        self.results_ok = 0
        self.calls_unanswered = 0
        self.bad_messages = 0
        self.pushes_sent = 0
        self.bytes_in = 0
        self.bytes_out = 0
        self.handshakes_rejected_busy = 0
        self.handshakes_timed_out = 0
        self.connections_rejected_busy = 0
        self.writes_paused = 0
        self.tls_sessions_resumed = 0
        self.hello_refused: dict[str, int] = {}
        self.results_error: dict[str, int] = {}
        self.connections_dropped: dict[str, int] = {}
        self.handshakes_refused: dict[str, int] = {}
        self.faults_injected: dict[str, int] = {}
        self.slow_clients_closed: dict[str, int] = {}

    def refuse_hello(self, code: str) -> None:
        """Count one refused hello with ``code``."""
        self.hello_refused[code] = self.hello_refused.get(code, 0) + 1

    def result_error(self, code: str) -> None:
        """Count one ``tool_result`` with ``ok: false`` and ``code``."""
        self.results_error[code] = self.results_error.get(code, 0) + 1

    @staticmethod
    def bump(bucket: dict[str, int], key: str, n: int = 1) -> None:
        """Add ``n`` to ``bucket[key]`` (for the per-key counters)."""
        bucket[key] = bucket.get(key, 0) + n

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready snapshot (copies, so later increments do not show through)."""
        out: dict[str, Any] = {}
        for key in STATS_KEYS:
            value = getattr(self, key)
            out[key] = dict(value) if isinstance(value, dict) else value
        return out


def empty_stats() -> dict[str, Any]:
    """A snapshot with every counter at zero."""
    return Counters().to_dict()


def sum_stats(snapshots: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Sum snapshots key by key (per-code objects are summed code by code)."""
    total = empty_stats()
    for snap in snapshots:
        for key in INT_FIELDS:
            total[key] += int(snap.get(key, 0))
        for key in CODE_FIELDS:
            bucket = total[key]
            for code, count in snap.get(key, {}).items():
                bucket[code] = bucket.get(code, 0) + int(count)
    for key in CODE_FIELDS:
        total[key] = dict(sorted(total[key].items()))
    return total
