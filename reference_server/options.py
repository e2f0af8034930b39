"""Command-line options -> a frozen Config; every bad value is a ConfigError with one printable line."""

from __future__ import annotations

import argparse
import os
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .auth import Verifier, hmac_verifier, public_key_verifier
from .faults import FaultError, Faults
from .option_rows import (
    DEFAULT_HANDSHAKE_TIMEOUT_S,
    DEFAULT_HOST,
    DEFAULT_MAX_MESSAGE_BYTES,
    DEFAULT_MAX_PENDING_HANDSHAKES,
    DEFAULT_MAX_SEND_BUFFER_BYTES,
    DEFAULT_PORT,
    DEFAULT_SEND_TIMEOUT_S,
    FAULT_OPTIONS,
    FAULTS,
    GROUPS,
    HARDENING,
    MAIN,
    MAX_WORKERS,
    OPTIONS,
    PROTOCOL_ENV,
    PROTOCOLS,
    SECRET_ENV,
    SECRET_OPTION,
    ServerOption,
)

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "FAULT_OPTIONS",
    "FAULTS",
    "GROUPS",
    "HARDENING",
    "MAIN",
    "MAX_WORKERS",
    "OPTIONS",
    "PROTOCOLS",
    "PROTOCOL_ENV",
    "SECRET_ENV",
    "Config",
    "ConfigError",
    "ServerOption",
    "build_parser",
    "make_tls_context",
    "parse_config",
    "scrub",
    "secret_values",
]


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
    #: The wire protocol: toolcall (PROTOCOL.md), jsonrpc or mcp.
    protocol: str = "toolcall"
    #: mcp only: seconds between the server's ping requests (None: no pings).
    mcp_ping_interval_s: float | None = None

    @property
    def scheme(self) -> str:
        """``wss`` with TLS, else ``ws``."""
        return "wss" if self.tls_cert else "ws"


_DESCRIPTION = (
    "Reference WebSocket server for the hello / call_tool protocol (PROTOCOL.md). "
    "Prints one line 'listening on ws://HOST:PORT/ stats http://HOST:MPORT/stats' "
    "when ready; SIGINT/SIGTERM shut it down gracefully."
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigError(message)


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser (also used for --help), built from OPTIONS."""
    parser = _Parser(prog="python -m reference_server", description=_DESCRIPTION, allow_abbrev=False)
    groups: dict[str, Any] = {MAIN: parser}
    for opt in OPTIONS:
        if opt.group not in groups:
            groups[opt.group] = parser.add_argument_group(opt.group, GROUPS[opt.group])
        if opt.switch:
            groups[opt.group].add_argument(opt.flag, action="store_true", help=opt.help)
        else:
            groups[opt.group].add_argument(
                opt.flag, type=opt.type, default=opt.default, metavar=opt.metavar, choices=opt.choices, help=opt.help
            )
    return parser


def _value(opt: ServerOption, args: argparse.Namespace, environ: Mapping[str, str]) -> Any:
    """The option's value: the command line's, else its environment variable's, else the default; checked."""
    value = getattr(args, opt.dest)
    if value is None and opt.env is not None and opt.env in environ:
        value = environ[opt.env]
        if opt.type is not None:
            try:
                value = opt.type(value)
            except ValueError:
                raise ConfigError(f"{opt.env}: invalid value") from None
    if value is not None and opt.check is not None:
        problem = opt.check(value)
        if problem is not None:
            raise ConfigError(f"{opt.flag} {problem}")
    return value


def _faults(values: Mapping[str, Any]) -> Faults:
    faults = Faults()
    for opt in OPTIONS:
        value = values[opt.dest]
        if opt.fault is None or value is None or value is False:
            continue
        try:
            faults = faults.updated({opt.fault: value})
        except FaultError as exc:
            raise ConfigError(f"{opt.flag} {exc.message}") from None
    return faults


def parse_config(argv: Sequence[str], environ: Mapping[str, str]) -> Config:
    """Parse and validate ``argv``; raise ConfigError (message safe to print)."""
    args = build_parser().parse_args(list(argv))
    values = {opt.dest: _value(opt, args, environ) for opt in OPTIONS}
    _check_protocol(values)
    if bool(values["tls_cert"]) != bool(values["tls_key"]):
        raise ConfigError("--tls-cert and --tls-key go together")
    if values["tls_cert"]:
        make_tls_context(values["tls_cert"], values["tls_key"])
    if values["stats_file"] is not None:
        parent = os.path.dirname(os.path.abspath(values["stats_file"]))
        if not os.path.isdir(parent):
            raise ConfigError(f"--stats-file: directory {parent} does not exist")
    return Config(
        **{opt.field: values[opt.dest] for opt in OPTIONS if opt.field is not None},
        metrics_port=_metrics_port(values["port"], values["metrics_port"]),
        verifier=_verifier(values, args.jwt_secret),
        max_connections=values["max_connections"] or None,
        faults=_faults(values),
        control=not values["no_control"],
    )


def _check_protocol(values: dict[str, Any]) -> None:
    """The protocol is known (also from the environment) and the options fit it."""
    protocol = values["protocol"] = values["protocol"] or "toolcall"
    if protocol not in PROTOCOLS:
        raise ConfigError(f"{PROTOCOL_ENV}: unknown protocol {protocol[:32]!r} (one of {', '.join(PROTOCOLS)})")
    if values["mcp_ping_interval"] is not None and protocol != "mcp":
        raise ConfigError("--mcp-ping-interval needs --protocol mcp")
    if values["fault_stall_hello"] and protocol == "jsonrpc":
        raise ConfigError("--fault-stall-hello needs a protocol with a handshake (toolcall or mcp)")


def _metrics_port(port: int, metrics_port: int | None) -> int:
    """The metrics port given, else the default derived from ``port``."""
    if metrics_port is None:
        if port == 0:
            return 0
        if port + 1 > 65535:
            raise ConfigError("--port 65535 leaves no default --metrics-port; give --metrics-port")
        return port + 1
    if metrics_port != 0 and metrics_port == port:
        raise ConfigError("--metrics-port must differ from --port")
    return metrics_port


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


def _verifier(values: Mapping[str, Any], secret_option: str | None) -> Verifier:
    """The token verifier; ``secret_option`` is --jwt-secret as given (the environment's is ignored with a key file)."""
    public_key, audience, secret = values["jwt_public_key"], values["jwt_audience"], values["jwt_secret"]
    if public_key is not None:
        if secret_option is not None:
            raise ConfigError(f"give either {SECRET_OPTION} or --jwt-public-key, not both")
        try:
            with open(public_key, "rb") as f:
                pem = f.read()
        except OSError as exc:
            raise ConfigError(f"cannot read --jwt-public-key {public_key}: {exc.strerror or exc}") from None
        try:
            return public_key_verifier(pem, audience)
        except ValueError as exc:
            raise ConfigError(f"--jwt-public-key {public_key}: {exc}") from None
    if secret is None:
        raise ConfigError(f"no JWT key: set {SECRET_ENV} (or {SECRET_OPTION}) or give --jwt-public-key FILE")
    if not secret:
        raise ConfigError("the JWT secret is empty")
    return hmac_verifier(secret.encode("utf-8", "surrogateescape"), audience)
