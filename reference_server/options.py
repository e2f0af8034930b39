"""Command-line options -> a frozen Config; every bad value is a ConfigError with one printable line."""

from __future__ import annotations

import argparse
import math
import os
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .auth import Verifier, hmac_verifier, public_key_verifier
from .faults import DEFAULT_OVERSIZE_BYTES, GARBAGE_KINDS, FaultError, Faults

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
MAX_WORKERS = 256
_MIN_MESSAGE_BYTES = 256
_MAX_MESSAGE_BYTES = 1 << 30


class ConfigError(Exception):
    """A bad option value; ``str()`` is one line that never contains the JWT secret."""


@dataclass(frozen=True)
class Config:
    """Everything the server needs to start; built only by parse_config."""

    verifier: Verifier = field(repr=False)
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    metrics_port: int = DEFAULT_PORT + 1
    workers: int = 1
    hello_timeout_s: float = 10.0
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    shutdown_grace_s: float = 5.0
    tls_cert: str | None = None
    tls_key: str | None = None
    rate_limit: float | None = None
    tool_timeout_s: float | None = None
    stats_file: str | None = None
    #: Time from TCP accept to a complete WebSocket upgrade request, per connection.
    handshake_timeout_s: float = DEFAULT_HANDSHAKE_TIMEOUT_S
    #: Per worker: TCP connections still in their HTTP upgrade; more are closed at once.
    max_pending_handshakes: int = DEFAULT_MAX_PENDING_HANDSHAKES
    #: Per connection: a message due while more than this is buffered closes the connection (1008).
    max_send_buffer_bytes: int = DEFAULT_MAX_SEND_BUFFER_BYTES
    #: Per connection: how long writes may stay paused (peer not reading) before close 1008.
    send_timeout_s: float = DEFAULT_SEND_TIMEOUT_S
    #: Per worker: open WebSocket connections; more are closed with 1013 (None: no limit).
    max_connections: int | None = None
    #: Faults on from the start (--fault-*); changed later over HTTP unless --no-control.
    faults: Faults = field(default_factory=Faults)
    #: Serve the /control routes on the metrics port.
    control: bool = True

    @property
    def scheme(self) -> str:
        """``wss`` with TLS, else ``ws``."""
        return "wss" if self.tls_cert else "ws"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigError(message)


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser (also used for --help)."""
    p = _Parser(
        prog="python -m reference_server",
        description=(
            "Reference WebSocket server for the hello / call_tool protocol (PROTOCOL.md). "
            "Prints one line 'listening on ws://HOST:PORT/ stats http://HOST:MPORT/stats' "
            "when ready; SIGINT/SIGTERM shut it down gracefully."
        ),
        allow_abbrev=False,
    )
    p.add_argument("--host", default=DEFAULT_HOST, help="address to listen on (default %(default)s)")
    p.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="WebSocket port (default %(default)s; 0 picks a free port)"
    )
    p.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        help="port of the GET /stats JSON endpoint (default: --port + 1, or a free port "
        "when --port is 0; 0 picks a free port)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes sharing the port with SO_REUSEPORT (default %(default)s)",
    )
    p.add_argument(
        SECRET_OPTION,
        default=None,
        metavar="SECRET",
        help=f"HS256 shared secret for hello tokens; prefer the {SECRET_ENV} environment "
        "variable (command lines are visible to other users)",
    )
    p.add_argument(
        "--jwt-public-key",
        default=None,
        metavar="FILE",
        help="PEM public key: RS256 for RSA, ES256/ES384/ES512 for EC P-256/P-384/P-521 "
        f"(then {SECRET_ENV} is ignored)",
    )
    p.add_argument(
        "--jwt-audience", default=None, help="required 'aud' claim; without it the 'aud' claim is not checked"
    )
    p.add_argument(
        "--hello-timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="close connections that send no hello within this time (default %(default)s)",
    )
    p.add_argument(
        "--max-message-bytes",
        type=int,
        default=DEFAULT_MAX_MESSAGE_BYTES,
        metavar="BYTES",
        help="largest accepted frame or reassembled message; larger ones close with 1009 (default %(default)s)",
    )
    p.add_argument(
        "--shutdown-grace",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="on SIGINT/SIGTERM, how long to wait for in-flight calls before closing "
        "every connection with 1001 (default %(default)s)",
    )
    p.add_argument("--tls-cert", default=None, metavar="FILE", help="PEM certificate chain: serve wss://")
    p.add_argument("--tls-key", default=None, metavar="FILE", help="PEM private key for --tls-cert")
    p.add_argument(
        "--rate-limit",
        type=float,
        default=None,
        metavar="CALLS_PER_S",
        help="per-connection call rate limit (bursts up to one second's worth); calls "
        "over it answer rate_limited (default: unlimited)",
    )
    p.add_argument(
        "--tool-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="a tool running longer than this answers timeout (default: no limit)",
    )
    p.add_argument(
        "--stats-file", default=None, metavar="FILE", help="write the final counters as JSON here at clean shutdown"
    )
    h = p.add_argument_group(
        "hardening",
        "limits against slow or greedy clients (per worker process unless said otherwise; see README)",
    )
    h.add_argument(
        "--handshake-timeout",
        type=float,
        default=DEFAULT_HANDSHAKE_TIMEOUT_S,
        metavar="SECONDS",
        help="close a TCP connection that has not sent a complete WebSocket upgrade request "
        "within this time (default %(default)s)",
    )
    h.add_argument(
        "--max-pending-handshakes",
        type=int,
        default=DEFAULT_MAX_PENDING_HANDSHAKES,
        metavar="N",
        help="per worker: TCP connections still in their HTTP upgrade; beyond this, new "
        "connections are closed at once, counted in handshakes_rejected_busy "
        "(default %(default)s)",
    )
    h.add_argument(
        "--max-send-buffer-bytes",
        type=int,
        default=DEFAULT_MAX_SEND_BUFFER_BYTES,
        metavar="BYTES",
        help="per connection: outgoing bytes the server buffers for a client that does not read "
        "fast enough; a message due while more than this is buffered closes the connection "
        "with 1008 instead (default %(default)s). Above a quarter of it (at most 256 KiB) "
        "the server stops reading that client's messages until it catches up",
    )
    h.add_argument(
        "--send-timeout",
        type=float,
        default=DEFAULT_SEND_TIMEOUT_S,
        metavar="SECONDS",
        help="per connection: close with 1008 a client whose reading stays paused this long, "
        "i.e. whose outgoing buffer went over the high-water mark and has not drained to a quarter "
        "of it since (default %(default)s)",
    )
    h.add_argument(
        "--max-connections",
        type=int,
        default=0,
        metavar="N",
        help="per worker: open WebSocket connections; beyond this, new ones are closed with "
        "1013 (try again later), counted in connections_rejected_busy (default 0: no limit)",
    )
    p.add_argument(
        "--no-control",
        action="store_true",
        help="do not serve the fault-injection routes (/control/...) on the metrics port",
    )
    f = p.add_argument_group(
        "fault injection",
        "faults on from the start; POST /control/faults changes them at runtime (see README)",
    )
    f.add_argument(
        "--fault-delay-ms",
        type=float,
        default=None,
        metavar="MS",
        help="delay every tool answer by this many milliseconds (default 0)",
    )
    f.add_argument(
        "--fault-stall", action="store_true", help="read calls but never run or answer them (hello is still answered)"
    )
    f.add_argument(
        "--fault-stall-hello",
        action="store_true",
        help="never answer hello (the connection stays open, ignoring what it receives)",
    )
    f.add_argument(
        "--fault-garbage-fraction",
        type=float,
        default=None,
        metavar="FRACTION",
        help="fraction (0..1) of tool answers replaced by a malformed answer (default 0)",
    )
    f.add_argument(
        "--fault-garbage-kind",
        default=None,
        choices=GARBAGE_KINDS,
        metavar="KIND",
        help=f"which malformed answer: {', '.join(GARBAGE_KINDS)} (default not_json)",
    )
    f.add_argument(
        "--fault-oversize-bytes",
        type=int,
        default=None,
        metavar="BYTES",
        help=f"size of the 'oversize' garbage frame (default {DEFAULT_OVERSIZE_BYTES})",
    )
    f.add_argument(
        "--fault-drop-rate",
        type=float,
        default=None,
        metavar="PER_S",
        help="close random connections with 1012 at this rate, over all workers (default 0)",
    )
    f.add_argument(
        "--fault-handshake-status",
        type=int,
        default=None,
        metavar="STATUS",
        help="refuse new WebSocket handshakes with this HTTP status, e.g. 401, 403, 500, 503 (default 0: accept)",
    )
    return p


#: CLI option -> fault field.
FAULT_OPTIONS: dict[str, str] = {
    "--fault-delay-ms": "delay_ms",
    "--fault-stall": "stall",
    "--fault-stall-hello": "stall_hello",
    "--fault-garbage-fraction": "garbage_fraction",
    "--fault-garbage-kind": "garbage_kind",
    "--fault-oversize-bytes": "oversize_bytes",
    "--fault-drop-rate": "drop_rate",
    "--fault-handshake-status": "handshake_status",
}


def _faults(args: argparse.Namespace) -> Faults:
    faults = Faults()
    for option, name in FAULT_OPTIONS.items():
        value = getattr(args, option[2:].replace("-", "_"))
        if value is None or value is False:
            continue
        try:
            faults = faults.updated({name: value})
        except FaultError as exc:
            raise ConfigError(f"{option} {exc.message}") from None
    return faults


def parse_config(argv: Sequence[str], environ: Mapping[str, str]) -> Config:
    """Parse and validate ``argv``; raise ConfigError (message safe to print)."""
    args = build_parser().parse_args(list(argv))
    _check_port("--port", args.port)
    if args.metrics_port is None:
        metrics_port = 0 if args.port == 0 else args.port + 1
        if metrics_port > 65535:
            raise ConfigError("--port 65535 leaves no default --metrics-port; give --metrics-port")
    else:
        metrics_port = args.metrics_port
        _check_port("--metrics-port", metrics_port)
        if metrics_port != 0 and metrics_port == args.port:
            raise ConfigError("--metrics-port must differ from --port")
    if not 1 <= args.workers <= MAX_WORKERS:
        raise ConfigError(f"--workers must be between 1 and {MAX_WORKERS}")
    _check_positive("--hello-timeout", args.hello_timeout)
    if not math.isfinite(args.shutdown_grace) or args.shutdown_grace < 0:
        raise ConfigError("--shutdown-grace must be a number >= 0")
    if not _MIN_MESSAGE_BYTES <= args.max_message_bytes <= _MAX_MESSAGE_BYTES:
        raise ConfigError(f"--max-message-bytes must be between {_MIN_MESSAGE_BYTES} and {_MAX_MESSAGE_BYTES}")
    if args.rate_limit is not None:
        _check_positive("--rate-limit", args.rate_limit)
    if args.tool_timeout is not None:
        _check_positive("--tool-timeout", args.tool_timeout)
    _check_positive("--handshake-timeout", args.handshake_timeout)
    _check_positive("--send-timeout", args.send_timeout)
    if not 1 <= args.max_pending_handshakes <= _MAX_LIMIT_COUNT:
        raise ConfigError(f"--max-pending-handshakes must be between 1 and {_MAX_LIMIT_COUNT}")
    if not 0 <= args.max_connections <= _MAX_LIMIT_COUNT:
        raise ConfigError(f"--max-connections must be between 0 (no limit) and {_MAX_LIMIT_COUNT}")
    if not _MIN_SEND_BUFFER_BYTES <= args.max_send_buffer_bytes <= _MAX_SEND_BUFFER_BYTES:
        raise ConfigError(
            f"--max-send-buffer-bytes must be between {_MIN_SEND_BUFFER_BYTES} and {_MAX_SEND_BUFFER_BYTES}"
        )
    if bool(args.tls_cert) != bool(args.tls_key):
        raise ConfigError("--tls-cert and --tls-key go together")
    if args.tls_cert:
        make_tls_context(args.tls_cert, args.tls_key)
    if args.stats_file is not None:
        parent = os.path.dirname(os.path.abspath(args.stats_file))
        if not os.path.isdir(parent):
            raise ConfigError(f"--stats-file: directory {parent} does not exist")
    return Config(
        host=args.host,
        port=args.port,
        metrics_port=metrics_port,
        workers=args.workers,
        verifier=_verifier(args, environ),
        hello_timeout_s=args.hello_timeout,
        max_message_bytes=args.max_message_bytes,
        shutdown_grace_s=args.shutdown_grace,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        rate_limit=args.rate_limit,
        tool_timeout_s=args.tool_timeout,
        stats_file=args.stats_file,
        handshake_timeout_s=args.handshake_timeout,
        max_pending_handshakes=args.max_pending_handshakes,
        max_send_buffer_bytes=args.max_send_buffer_bytes,
        send_timeout_s=args.send_timeout,
        max_connections=args.max_connections or None,
        faults=_faults(args),
        control=not args.no_control,
    )


def make_tls_context(cert: str, key: str) -> ssl.SSLContext:
    """A server TLS context; ConfigError if the files cannot be loaded."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cert, key)
    except OSError as exc:
        raise ConfigError(f"cannot read TLS certificate or key: {exc.strerror or exc}") from None
    except ssl.SSLError as exc:
        raise ConfigError(f"cannot load TLS certificate/key pair: {exc.reason or 'invalid PEM'}") from None
    return context


def secret_values(argv: Sequence[str], environ: Mapping[str, str]) -> list[str]:
    """Every JWT secret given in ``argv`` or ``environ`` (to scrub them from messages)."""
    found = [environ[SECRET_ENV]] if environ.get(SECRET_ENV) else []
    for i, arg in enumerate(argv):
        if arg == SECRET_OPTION and i + 1 < len(argv):
            found.append(argv[i + 1])
        elif arg.startswith(SECRET_OPTION + "="):
            found.append(arg[len(SECRET_OPTION) + 1 :])
    return [s for s in found if s]


def scrub(text: str, secrets: Sequence[str]) -> str:
    """``text`` with every secret replaced by ``***``."""
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def _check_port(name: str, port: int) -> None:
    if not 0 <= port <= 65535:
        raise ConfigError(f"{name} must be between 0 and 65535")


def _check_positive(name: str, value: float) -> None:
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{name} must be a positive number")


def _verifier(args: argparse.Namespace, environ: Mapping[str, str]) -> Verifier:
    if args.jwt_public_key is not None:
        if args.jwt_secret is not None:
            raise ConfigError(f"give either {SECRET_OPTION} or --jwt-public-key, not both")
        try:
            with open(args.jwt_public_key, "rb") as f:
                pem = f.read()
        except OSError as exc:
            raise ConfigError(f"cannot read --jwt-public-key {args.jwt_public_key}: {exc.strerror or exc}") from None
        try:
            return public_key_verifier(pem, args.jwt_audience)
        except ValueError as exc:
            raise ConfigError(f"--jwt-public-key {args.jwt_public_key}: {exc}") from None
    secret = args.jwt_secret if args.jwt_secret is not None else environ.get(SECRET_ENV)
    if secret is None:
        raise ConfigError(f"no JWT key: set {SECRET_ENV} (or {SECRET_OPTION}) or give --jwt-public-key FILE")
    if not secret:
        raise ConfigError("the JWT secret is empty")
    return hmac_verifier(secret.encode("utf-8", "surrogateescape"), args.jwt_audience)
