"""Command-line options of the WebSocket users (each with a LOCUST_* env var; shown in the web UI unless secret)."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from users.auth import Minter, StaticToken, TokenSource, algorithm_for_private_key
from users.protocols import PROTOCOLS
from users.protocols.mcp import DEFAULT_PROTOCOL_VERSION
from users.protocols.options import ProtocolOptionError, add_protocol_arguments, check_protocol_options
from users.tool_mix import ToolMixError, parse_tool_spec

DEFAULTS: dict[str, Any] = {
    "tools": "echo",
    "in_flight": 1,
    "call_timeout": 10.0,
    "connect_timeout": 10.0,
    "hello_timeout": 10.0,
    "session_prefix": "locust",
    "max_in_flight": 1000,
    "subscribe": "",
    "ping_interval": 20.0,
    "ping_timeout": 10.0,
    "max_message_bytes": 16 * 1024 * 1024,
    "bad_token_fraction": 0.0,
    "protocol": "toolcall",
    "compression": "",
    "mcp_protocol_version": DEFAULT_PROTOCOL_VERSION,
    "rpc_hello": "",
}
"""Defaults shared by the options and ToolCallUser's attributes; an option differing from them overrides the attribute."""


class OptionError(ValueError):
    """An option value that cannot work; the message names the option."""


def add_user_arguments(parser: Any) -> None:
    """Register the options on Locust's parser (`events.init_command_line_parser` listener)."""
    group = parser  # Locust's own parser: its groups would not take include_in_web_ui / is_secret
    group.add_argument(
        "--jwt-secret",
        env_var="LOCUST_JWT_SECRET",
        default=None,
        include_in_web_ui=False,
        help="HS256 secret to mint a JWT per user for hello. Prefer the env var: argv is visible to other local "
        "users. Never shown in the web UI, logs or reports.",
    )
    group.add_argument(
        "--token",
        env_var="LOCUST_TOKEN",
        default=None,
        include_in_web_ui=False,
        help="A ready-made JWT sent as is in hello (instead of --jwt-secret). Never shown in the web UI.",
    )
    group.add_argument(
        "--jwt-private-key",
        env_var="LOCUST_JWT_PRIVATE_KEY",
        default="",
        help="PEM private key file to mint RS256 (RSA) or ES256/384/512 (EC) tokens instead of HS256.",
    )
    group.add_argument(
        "--bad-token-fraction",
        env_var="LOCUST_BAD_TOKEN_FRACTION",
        type=float,
        default=DEFAULTS["bad_token_fraction"],
        help="Fraction of users that present a token with a broken signature (to load-test auth failures).",
    )
    group.add_argument(
        "--jwt-subject", env_var="LOCUST_JWT_SUBJECT", default="locust", help="`sub` claim of minted tokens."
    )
    group.add_argument(
        "--jwt-scope",
        env_var="LOCUST_JWT_SCOPE",
        default="tools:*",
        help="`scope` claim of minted tokens: comma-separated tool names, or tools:* for all.",
    )
    group.add_argument(
        "--jwt-ttl", env_var="LOCUST_JWT_TTL", type=float, default=3600.0, help="Lifetime of minted tokens, seconds."
    )
    group.add_argument(
        "--jwt-audience", env_var="LOCUST_JWT_AUDIENCE", default="", help="`aud` claim of minted tokens (empty: none)."
    )
    group.add_argument(
        "--session-prefix",
        env_var="LOCUST_SESSION_PREFIX",
        default=DEFAULTS["session_prefix"],
        help="Prefix of each connection's hello session_id (a unique suffix is added).",
    )
    group.add_argument(
        "--tools",
        env_var="LOCUST_TOOLS",
        default=DEFAULTS["tools"],
        help='Weighted tool mix: NAME[:WEIGHT][=JSON-ARGS], comma-separated, e.g. echo:8,sleep:1={"ms":5}.',
    )
    group.add_argument(
        "--in-flight",
        env_var="LOCUST_IN_FLIGHT",
        type=int,
        default=DEFAULTS["in_flight"],
        help="Calls kept outstanding per connection: 1 is a closed loop, more pipelines on one connection.",
    )
    group.add_argument(
        "--max-in-flight",
        env_var="LOCUST_MAX_IN_FLIGHT",
        type=int,
        default=DEFAULTS["max_in_flight"],
        help="Rate mode (--rate): most calls outstanding per connection; beyond it sends wait and count as late.",
    )
    group.add_argument(
        "--subscribe",
        env_var="LOCUST_SUBSCRIBE",
        default=DEFAULTS["subscribe"],
        help="Server-push stream each connection subscribes to after hello: TOPIC[:RATE[:COUNT]] (e.g. ticks:100).",
    )
    group.add_argument(
        "--call-timeout",
        env_var="LOCUST_CALL_TIMEOUT",
        type=float,
        default=DEFAULTS["call_timeout"],
        help="Seconds without a result before a call is a 'timeout' failure (also the drain limit at stop).",
    )
    group.add_argument(
        "--connect-timeout",
        env_var="LOCUST_CONNECT_TIMEOUT",
        type=float,
        default=DEFAULTS["connect_timeout"],
        help="Seconds for TCP + TLS + WebSocket handshake.",
    )
    group.add_argument(
        "--hello-timeout",
        env_var="LOCUST_HELLO_TIMEOUT",
        type=float,
        default=DEFAULTS["hello_timeout"],
        help="Seconds to wait for hello_ok.",
    )
    group.add_argument(
        "--ping-interval",
        env_var="LOCUST_PING_INTERVAL",
        type=float,
        default=DEFAULTS["ping_interval"],
        help="Seconds between keepalive pings per connection (0: none); no pong within --ping-timeout "
        "ends a half-open connection (its calls become connection_lost) and the user reconnects.",
    )
    group.add_argument(
        "--ping-timeout",
        env_var="LOCUST_PING_TIMEOUT",
        type=float,
        default=DEFAULTS["ping_timeout"],
        help="Seconds to wait for a pong.",
    )
    group.add_argument(
        "--max-message-bytes",
        env_var="LOCUST_MAX_MESSAGE_BYTES",
        type=int,
        default=DEFAULTS["max_message_bytes"],
        help="Largest server message accepted; a larger one is a protocol error and the connection closes with 1009.",
    )
    add_protocol_arguments(group, DEFAULTS)
    group.add_argument(
        "--ca-file", env_var="LOCUST_CA_FILE", default="", help="PEM file of CAs to trust for wss:// (private CA)."
    )
    group.add_argument(
        "--insecure",
        env_var="LOCUST_INSECURE",
        action="store_true",
        default=False,
        help="wss:// without certificate verification (warns). Never for production endpoints.",
    )


CREDENTIALS = {"jwt_secret": "LOCUST_JWT_SECRET", "token": "LOCUST_TOKEN", "jwt_private_key": "LOCUST_JWT_PRIVATE_KEY"}
"""Credential options and the env vars a process reads them from when the options it runs with carry none."""


def with_local_credentials(options: argparse.Namespace, environ: Mapping[str, str]) -> argparse.Namespace:
    """`options`, with this process's own credential env vars when the options carry none.

    In distributed runs Locust replaces a worker's options with the master's at
    every spawn; a master started without credentials sends none, and each
    worker then uses its own, so secrets never cross the master-worker link.
    """
    if any(getattr(options, name, None) for name in CREDENTIALS):
        return options
    local = {name: environ[var] for name, var in CREDENTIALS.items() if environ.get(var)}
    return argparse.Namespace(**{**vars(options), **local}) if local else options


def check_options(options: argparse.Namespace, *, need_credentials: bool = True) -> None:
    """Raise OptionError naming the first option whose value cannot work."""
    try:
        check_protocol_options(options, DEFAULTS)
    except ProtocolOptionError as exc:
        raise OptionError(str(exc)) from None
    given = [name for name in CREDENTIALS if getattr(options, name, None)]
    if not given and not need_credentials:
        given = ["(on the workers)"]
    bearer = PROTOCOLS[getattr(options, "protocol", "toolcall")]().bearer_token
    if not given and bearer and not options.bad_token_fraction:
        given = ["(none: the upgrade carries no token)"]
    if not given:
        raise OptionError(
            "set --jwt-secret (LOCUST_JWT_SECRET), --jwt-private-key (LOCUST_JWT_PRIVATE_KEY) or --token "
            "(LOCUST_TOKEN): hello needs a JWT"
        )
    if len(given) > 1:
        raise OptionError(f"{' and '.join('--' + n.replace('_', '-') for n in given)} exclude each other: give one")
    if getattr(options, "jwt_private_key", None):
        _private_key(options.jwt_private_key)
    if not 0 <= options.bad_token_fraction <= 1:
        raise OptionError(f"--bad-token-fraction must be between 0 and 1, got {options.bad_token_fraction:g}")
    if options.ping_interval < 0 or options.ping_timeout <= 0:
        raise OptionError("--ping-interval must be 0 or more and --ping-timeout positive (seconds)")
    if options.max_message_bytes < 1024:
        raise OptionError(f"--max-message-bytes must be at least 1024, got {options.max_message_bytes}")
    if options.in_flight < 1:
        raise OptionError(f"--in-flight must be at least 1, got {options.in_flight}")
    if options.max_in_flight < 1:
        raise OptionError(f"--max-in-flight must be at least 1, got {options.max_in_flight}")
    if options.subscribe:
        parts = options.subscribe.split(":")
        try:
            if not parts[0] or len(parts) > 3:
                raise ValueError
            if len(parts) > 1 and not float(parts[1]) >= 0:
                raise ValueError
            if len(parts) > 2 and not int(parts[2]) >= 0:
                raise ValueError
        except ValueError:
            raise OptionError(f"--subscribe must be TOPIC[:RATE[:COUNT]], got {options.subscribe!r}") from None
    for name in ("call_timeout", "connect_timeout", "hello_timeout", "jwt_ttl"):
        value = getattr(options, name)
        if not value > 0:
            raise OptionError(f"--{name.replace('_', '-')} must be a positive number of seconds, got {value}")
    try:
        parse_tool_spec(options.tools)
    except ToolMixError as exc:
        raise OptionError(str(exc)) from None
    if options.ca_file and options.insecure:
        raise OptionError("--ca-file and --insecure exclude each other")


def token_source(options: argparse.Namespace) -> TokenSource:
    """The token source the options describe (assumes `check_options` passed)."""
    if options.token:
        return StaticToken(options.token)
    scope = tuple(s.strip() for s in options.jwt_scope.split(",") if s.strip())
    if options.jwt_private_key:
        key, algorithm = _private_key(options.jwt_private_key)
    else:
        key, algorithm = options.jwt_secret, "HS256"
    return Minter(
        key,
        algorithm=algorithm,
        subject=options.jwt_subject,
        scope=scope,
        ttl_s=options.jwt_ttl,
        audience=options.jwt_audience or None,
    )


def _private_key(path: str) -> tuple[str, str]:
    """(PEM text, algorithm) of a private key file; OptionError naming the file, never its content."""
    try:
        pem = Path(path).read_bytes()
    except OSError as exc:
        raise OptionError(f"--jwt-private-key {path}: cannot read: {exc.strerror}") from None
    try:
        algorithm = algorithm_for_private_key(pem)
    except ValueError as exc:
        raise OptionError(f"--jwt-private-key {path}: {exc}") from None
    return pem.decode(), algorithm
