"""The reference server's option rows: option_table.Option rows plus env var, --help group, Config/Faults field."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from option_table import Check, Option

from .faults import DEFAULT_OVERSIZE_BYTES, GARBAGE_KINDS

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8079
DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024
DEFAULT_HANDSHAKE_TIMEOUT_S = 5.0
DEFAULT_MAX_PENDING_HANDSHAKES = 1024
DEFAULT_MAX_SEND_BUFFER_BYTES = 8 * 1024 * 1024
DEFAULT_SEND_TIMEOUT_S = 10.0
_MIN_SEND_BUFFER_BYTES = 64 * 1024
_MAX_SEND_BUFFER_BYTES = 1 << 34
_MAX_LIMIT_COUNT = 1_000_000
SECRET_ENV = "REFERENCE_SERVER_JWT_SECRET"
SECRET_OPTION = "--jwt-secret"
PROTOCOL_ENV = "REFERENCE_SERVER_PROTOCOL"
PROTOCOLS = ("toolcall", "jsonrpc", "mcp")
MAX_WORKERS = 256
_MIN_MESSAGE_BYTES = 256
_MAX_MESSAGE_BYTES = 1 << 30


def _between(low: float, high: float, note: str = "") -> Check:
    """A check: ``low <= value <= high``."""
    return lambda value: None if low <= value <= high else f"must be between {low}{note} and {high}"


def _positive(value: float) -> str | None:
    return None if math.isfinite(value) and value > 0 else "must be a positive number"


def _not_negative(value: float) -> str | None:
    return None if math.isfinite(value) and value >= 0 else "must be a number >= 0"


_PORT = _between(0, 65535)
MAIN, HARDENING, FAULTS = "", "hardening", "fault injection"
#: Argument group -> its description in --help.
GROUPS: dict[str, str] = {
    HARDENING: "limits against slow or greedy clients (per worker process unless said otherwise; see docs/how-to/reference-server.md)",
    FAULTS: "faults on from the start; POST /control/faults changes them at runtime (see docs/how-to/reference-server.md)",
}


@dataclass(frozen=True)
class ServerOption(Option):
    """An ``option_table.Option`` row (the users' and scenarios' row type) plus what the server's argparse needs."""

    metavar: str | None = None
    #: Environment variable read when the option is not given (the server's own; no LOCUST_ prefix).
    env: str | None = None
    #: The --help group (MAIN, HARDENING, FAULTS).
    group: str = MAIN
    #: The Config field it sets as is (None: used to derive another field).
    field: str | None = None
    #: The Faults field it sets (fault options).
    fault: str | None = None

    @property
    def env_var(self) -> str | None:  # type: ignore[override]  # the server's own variable, or none
        """The environment variable that sets it, if any."""
        return self.env

    @property
    def switch(self) -> bool:
        """True for an on/off flag (store_true)."""
        return self.action == "store_true"


def row(
    flag: str,
    help: str,
    type: Callable[[str], Any] | None = str,
    default: Any = None,
    metavar: str | None = None,
    check: Check | None = None,
    *,
    env: str | None = None,
    group: str = MAIN,
    choices: tuple[str, ...] | None = None,
    field: str | None = None,
    fault: str | None = None,
) -> ServerOption:
    """One server option in the server's argument order; ``type`` None makes it a switch (store_true).

    ``check`` validates the parsed value (not None): returns what is wrong ("must be ...") or None.
    """
    action = "store_true" if type is None else None
    return ServerOption(
        flag,
        default,
        help,
        type,
        choices,
        action,
        check,
        metavar=metavar,
        env=env,
        group=group,
        field=field,
        fault=fault,
    )


#: Every option of the server, in --help order within its group.
OPTIONS: tuple[ServerOption, ...] = (
    row("--host", "address to listen on (default %(default)s)", default=DEFAULT_HOST, field="host"),
    row(
        "--protocol",
        "wire protocol: toolcall (hello / call_tool, PROTOCOL.md), jsonrpc (JSON-RPC 2.0, the method is the "
        "tool) or mcp (MCP over WebSocket, subprotocol mcp); jsonrpc and mcp take the token from the "
        f"upgrade's 'Authorization: Bearer' header (default: ${PROTOCOL_ENV} or toolcall)",
        default=None,
        metavar="NAME",
        env=PROTOCOL_ENV,
        choices=PROTOCOLS,
        field="protocol",
    ),
    row(
        "--mcp-ping-interval",
        "mcp only: send a ping request to each initialized client every this many seconds (default: never)",
        float,
        metavar="SECONDS",
        check=_positive,
        field="mcp_ping_interval_s",
    ),
    row(
        "--port",
        "WebSocket port (default %(default)s; 0 picks a free port)",
        int,
        DEFAULT_PORT,
        None,
        _PORT,
        field="port",
    ),
    row(
        "--metrics-port",
        "port of the GET /stats JSON endpoint (default: --port + 1, or a free port when --port is 0; "
        "0 picks a free port)",
        int,
        check=_PORT,
    ),
    row(
        "--workers",
        "server processes sharing the port with SO_REUSEPORT (default %(default)s)",
        int,
        1,
        check=_between(1, MAX_WORKERS),
        field="workers",
    ),
    row(
        SECRET_OPTION,
        f"HS256 shared secret for hello tokens; prefer the {SECRET_ENV} environment variable "
        "(command lines are visible to other users)",
        metavar="SECRET",
        env=SECRET_ENV,
    ),
    row(
        "--jwt-public-key",
        f"PEM public key: RS256 for RSA, ES256/ES384/ES512 for EC P-256/P-384/P-521 (then {SECRET_ENV} is ignored)",
        metavar="FILE",
    ),
    row("--jwt-audience", "required 'aud' claim; without it the 'aud' claim is not checked"),
    row(
        "--hello-timeout",
        "close connections that send no hello within this time (default %(default)s)",
        float,
        10.0,
        "SECONDS",
        _positive,
        field="hello_timeout_s",
    ),
    row(
        "--max-message-bytes",
        "largest accepted frame or reassembled message; larger ones close with 1009 (default %(default)s)",
        int,
        DEFAULT_MAX_MESSAGE_BYTES,
        "BYTES",
        _between(_MIN_MESSAGE_BYTES, _MAX_MESSAGE_BYTES),
        field="max_message_bytes",
    ),
    row(
        "--shutdown-grace",
        "on SIGINT/SIGTERM, how long to wait for in-flight calls before closing every connection with 1001 "
        "(default %(default)s)",
        float,
        5.0,
        "SECONDS",
        _not_negative,
        field="shutdown_grace_s",
    ),
    row("--tls-cert", "PEM certificate chain: serve wss://", metavar="FILE", field="tls_cert"),
    row("--tls-key", "PEM private key for --tls-cert", metavar="FILE", field="tls_key"),
    row(
        "--rate-limit",
        "per-connection call rate limit (bursts up to one second's worth); calls over it answer rate_limited "
        "(default: unlimited)",
        float,
        metavar="CALLS_PER_S",
        check=_positive,
        field="rate_limit",
    ),
    row(
        "--tool-timeout",
        "a tool running longer than this answers timeout (default: no limit)",
        float,
        metavar="SECONDS",
        check=_positive,
        field="tool_timeout_s",
    ),
    row(
        "--stats-file",
        "write the final counters as JSON here at clean shutdown",
        metavar="FILE",
        field="stats_file",
    ),
    row(
        "--handshake-timeout",
        "close a TCP connection that has not sent a complete WebSocket upgrade request within this time "
        "(default %(default)s)",
        float,
        DEFAULT_HANDSHAKE_TIMEOUT_S,
        "SECONDS",
        _positive,
        group=HARDENING,
        field="handshake_timeout_s",
    ),
    row(
        "--max-pending-handshakes",
        "per worker: TCP connections still in their HTTP upgrade; beyond this, new connections are closed "
        "at once, counted in handshakes_rejected_busy (default %(default)s)",
        int,
        DEFAULT_MAX_PENDING_HANDSHAKES,
        "N",
        _between(1, _MAX_LIMIT_COUNT),
        group=HARDENING,
        field="max_pending_handshakes",
    ),
    row(
        "--max-send-buffer-bytes",
        "per connection: outgoing bytes the server buffers for a client that does not read fast enough; "
        "a message due while more than this is buffered closes the connection with 1008 instead "
        "(default %(default)s). Above a quarter of it (at most 256 KiB) the server stops reading that "
        "client's messages until it catches up",
        int,
        DEFAULT_MAX_SEND_BUFFER_BYTES,
        "BYTES",
        _between(_MIN_SEND_BUFFER_BYTES, _MAX_SEND_BUFFER_BYTES),
        group=HARDENING,
        field="max_send_buffer_bytes",
    ),
    row(
        "--send-timeout",
        "per connection: close with 1008 a client whose reading stays paused this long, i.e. whose outgoing "
        "buffer went over the high-water mark and has not drained to a quarter of it since (default %(default)s)",
        float,
        DEFAULT_SEND_TIMEOUT_S,
        "SECONDS",
        _positive,
        group=HARDENING,
        field="send_timeout_s",
    ),
    row(
        "--max-connections",
        "per worker: open WebSocket connections; beyond this, new ones are closed with 1013 (try again later), "
        "counted in connections_rejected_busy (default 0: no limit)",
        int,
        0,
        "N",
        _between(0, _MAX_LIMIT_COUNT, " (no limit)"),
        group=HARDENING,
    ),
    row(
        "--no-control",
        "do not serve the fault-injection routes (/control/...) on the metrics port",
        None,
        False,
    ),
    row(
        "--fault-delay-ms",
        "delay every tool answer by this many milliseconds (default 0)",
        float,
        metavar="MS",
        group=FAULTS,
        fault="delay_ms",
    ),
    row(
        "--fault-stall",
        "read calls but never run or answer them (hello is still answered)",
        None,
        False,
        group=FAULTS,
        fault="stall",
    ),
    row(
        "--fault-stall-hello",
        "never answer hello (the connection stays open, ignoring what it receives)",
        None,
        False,
        group=FAULTS,
        fault="stall_hello",
    ),
    row(
        "--fault-garbage-fraction",
        "fraction (0..1) of tool answers replaced by a malformed answer (default 0)",
        float,
        metavar="FRACTION",
        group=FAULTS,
        fault="garbage_fraction",
    ),
    row(
        "--fault-garbage-kind",
        f"which malformed answer: {', '.join(GARBAGE_KINDS)} (default not_json)",
        metavar="KIND",
        group=FAULTS,
        choices=GARBAGE_KINDS,
        fault="garbage_kind",
    ),
    row(
        "--fault-oversize-bytes",
        f"size of the 'oversize' garbage frame (default {DEFAULT_OVERSIZE_BYTES})",
        int,
        metavar="BYTES",
        group=FAULTS,
        fault="oversize_bytes",
    ),
    row(
        "--fault-drop-rate",
        "close random connections with 1012 at this rate, over all workers (default 0)",
        float,
        metavar="PER_S",
        group=FAULTS,
        fault="drop_rate",
    ),
    row(
        "--fault-handshake-status",
        "refuse new WebSocket handshakes with this HTTP status, e.g. 401, 403, 500, 503 (default 0: accept)",
        int,
        metavar="STATUS",
        group=FAULTS,
        fault="handshake_status",
    ),
)
#: CLI option -> fault field.
FAULT_OPTIONS: dict[str, str] = {opt.flag: opt.fault for opt in OPTIONS if opt.fault is not None}
