"""Command-line options of the WebSocket users (each with a LOCUST_* env var; in the web UI unless secret or headless)."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from analysis.thresholds import ThresholdError, parse_thresholds
from option_table import (
    Option,
    add_options,
    at_least,
    between,
    defaults,
    first_problem,
    port_or_empty,
    register,
    seconds,
    seconds_or_zero,
)
from users.load.tool_mix import ToolMixError, parse_tool_spec
from users.wire.auth import Minter, StaticToken, TokenSource, algorithm_for_private_key
from users.wire.protocols import PROTOCOLS
from users.wire.protocols.mcp import DEFAULT_PROTOCOL_VERSION
from users.wire.protocols.options import ProtocolOptionError, check_protocol_options

DEFAULT_PROGRESS_S = 3.0
"""Seconds between progress lines of a headless run."""


class ThresholdAction(argparse.Action):
    """--threshold may be repeated: the values are joined with commas into one string (also the env var's form)."""

    def __call__(self, parser: Any, namespace: argparse.Namespace, values: Any, option_string: Any = None) -> None:
        earlier = getattr(namespace, self.dest, "") or ""
        if earlier == self.default:
            earlier = ""
        setattr(namespace, self.dest, f"{earlier},{values}" if earlier else str(values))


OPTIONS: tuple[Option, ...] = register((
    Option("--jwt-secret", None, "HS256 secret to mint a JWT per user for hello. Prefer the env var: argv is "
           "visible to other local users. Never shown in the web UI, logs or reports.",
           visibility="never"),
    Option("--token", None, "A ready-made JWT sent as is in hello (instead of --jwt-secret). Never shown in the "
           "web UI.",
           visibility="never"),
    Option("--jwt-private-key", "", "PEM private key file to mint RS256 (RSA) or ES256/384/512 (EC) tokens "
           "instead of HS256.",
           visibility="cli"),
    Option("--bad-token-fraction", 0.0, "Fraction of users that present a token with a broken signature (to "
           "load-test auth failures).", type=float, check=between(0, 1),
           visibility="cli"),
    Option("--jwt-subject", "locust", "`sub` claim of minted tokens.",
           visibility="cli"),
    Option("--jwt-scope", "tools:*", "`scope` claim of minted tokens: comma-separated tool names, or tools:* "
           "for all.",
           visibility="cli"),
    Option("--jwt-ttl", 3600.0, "Lifetime of minted tokens, seconds.", type=float, check=seconds,
           visibility="cli"),
    Option("--jwt-audience", "", "`aud` claim of minted tokens (empty: none).",
           visibility="cli"),
    Option("--session-prefix", "locust", "Prefix of each connection's hello session_id (a unique suffix is "
           "added).",
           visibility="cli"),
    Option("--tools", "echo", 'Weighted tool mix: NAME[:WEIGHT][=JSON-ARGS], comma-separated, e.g. '
           'echo:8,sleep:1={"ms":5}.',
           group="Load", order=10, label="Tools", hint='NAME[:WEIGHT][=JSON], e.g. echo:8,sleep:1={"ms":5}'),
    Option("--in-flight", 1, "Calls kept outstanding per connection: 1 is a closed loop, more pipelines on one "
           "connection.", type=int, check=at_least(1),
           group="Load", order=20, label="In flight", hint="calls outstanding per connection; 1 = closed loop"),
    Option("--max-in-flight", 1000, "Rate mode (--rate): most calls outstanding per connection; beyond it sends "
           "wait and count as late.", type=int, check=at_least(1),
           group="Advanced", order=20, label="Max in flight", hint="rate mode: most calls outstanding per connection"),
    Option("--subscribe", "", "Server-push stream each connection subscribes to after hello: "
           "TOPIC[:RATE[:COUNT]], e.g. ticks:100:1000 (100 events/s, 1000 in all; without COUNT: until the "
           "connection ends).",
           group="Load", order=40, label="Subscribe",
           hint="push stream TOPIC[:RATE[:COUNT]], e.g. ticks:100:1000; empty = none"),
    Option("--session-calls", 0, "Connection churn: each connection makes this many calls, closes with 1000 and "
           "its user connects again at once (no backoff: a deliberate close is not a failure); 0 keeps the "
           "connection.", type=int, check=at_least(0)),
    Option("--call-timeout", 10.0, "Seconds without a result before a call is a 'timeout' failure (also the "
           "drain limit at stop).", type=float, check=seconds,
           group="Advanced", order=10, label="Call timeout", hint="seconds without a result before a call times out"),
    Option("--connect-timeout", 10.0, "Seconds for TCP + TLS + WebSocket handshake.", type=float, check=seconds,
           visibility="cli"),
    Option("--follow-redirects", False, "Follow a redirect answer to the upgrade (at most 3), only within the "
           "same scheme, host and port: credentials never go to another origin. Off: a redirect is a "
           "connect failure.", action="store_true"),
    Option("--hello-timeout", 10.0, "Seconds to wait for hello_ok.", type=float, check=seconds,
           visibility="cli"),
    Option("--ping-interval", 20.0, "Seconds between keepalive pings per connection (0: none); no pong within "
           "--ping-timeout ends a half-open connection (its calls become connection_lost) and the user "
           "reconnects.", type=float, check=seconds_or_zero,
           visibility="cli"),
    Option("--ping-timeout", 10.0, "Seconds to wait for a pong.", type=float, check=seconds,
           visibility="cli"),
    Option("--max-message-bytes", 16 * 1024 * 1024, "Largest server message accepted; a larger one is a "
           "protocol error and the connection closes with 1009.", type=int, check=at_least(1024),
           visibility="cli"),
    Option("--max-server-names", 100, "Distinct strings a server chooses (push topics or notification methods, "
           "error codes, close reasons) that become Locust names or failure messages, per kind and per run; later "
           "new ones share one <other> name (counted in server_names_overflowed).", type=int, check=at_least(1)),
    Option("--protocol", "toolcall", "Wire protocol: toolcall (PROTOCOL.md: hello, call_tool), jsonrpc (JSON-RPC "
           "2.0, a tool is a method) or mcp (Model Context Protocol over WebSocket: initialize, tools/call).",
           group="Protocol", order=10, label="Protocol", hint="toolcall (PROTOCOL.md), jsonrpc (JSON-RPC 2.0) or mcp"),
    Option("--compression", "", "deflate: offer permessage-deflate (RFC 7692) and compress when the server "
           "accepts; empty: none.",
           group="Protocol", order=20, label="Compression", hint="deflate: offer permessage-deflate"),
    Option("--mcp-protocol-version", DEFAULT_PROTOCOL_VERSION, "--protocol mcp: the protocolVersion sent in "
           "initialize.",
           group="Protocol", order=30, label="MCP version", hint="protocol mcp: protocolVersion sent in initialize"),
    Option("--rpc-hello", "", "--protocol jsonrpc: a handshake request sent first and timed as hello, "
           'METHOD[=JSON-PARAMS], e.g. auth={"user":"load"}; empty: none.',
           group="Protocol", order=40, label="JSON-RPC hello",
           hint='protocol jsonrpc: METHOD[=JSON] sent first, e.g. auth={"user":"load"}'),
    Option("--ca-file", "", "PEM file of CAs to trust for wss:// (private CA).",
           visibility="cli"),
    Option("--insecure", False, "wss:// without certificate verification (warns). Never for production "
           "endpoints.", action="store_true",
           visibility="cli"),
    Option("--progress-interval", DEFAULT_PROGRESS_S, "Seconds between WebSocket progress lines of a headless "
           "run (0: none; --only-summary: none).", type=float, check=seconds_or_zero,
           visibility="never"),
    Option("--stats-table", False, "Headless: keep Locust's request table every 2 s beside the progress lines "
           "(default: only ours).", action="store_true",
           visibility="never"),
    Option("--threshold", "", "Pass/fail criteria, k6-style, repeatable or comma-separated: [NAME:]METRIC OP "
           "VALUE, e.g. p99<100ms, errors<1%%, msgs>=50K/s, call_tool:echo:p99<5ms. A failed one makes the exit "
           "code 1.", action=ThresholdAction,
           group="Thresholds", order=10, label="Thresholds", hint="e.g. p99<100ms, errors<1%, msgs>=50K/s"),
    Option("--abort-on-threshold", False, "Stop the run cleanly (users drain, every file written) as soon as a "
           "--threshold fails.", action="store_true",
           group="Thresholds", order=20, label="Stop when a threshold fails"),
    Option("--abort-grace", 5.0, "Seconds into the run before --abort-on-threshold may stop it (warm-up).",
           type=float, check=seconds_or_zero,
           group="Thresholds", order=30, label="Abort grace",
           hint="seconds into the run before a failed threshold may stop it"),
    Option("--prometheus-port", "", "Serve Prometheus /metrics on this port from the master (or the only process): "
           "the whole run's wsload_* metrics, summed over workers (docs/monitoring.md). Empty: off.",
           check=port_or_empty,
           visibility="never"),
    Option("--prometheus-host", "127.0.0.1", "Address /metrics listens on (0.0.0.0: every interface).",
           visibility="never"),
    Option("--prometheus-linger", 15.0, "Seconds a headless run keeps serving its final metrics after it ends, "
           "for the last scrape (0: none).", type=float, check=seconds_or_zero,
           visibility="never"),
))  # fmt: skip
"""Every option of the WebSocket users, declared once (option_table.Option)."""

USER_ATTRIBUTES = ("tools", "in_flight", "call_timeout", "connect_timeout", "hello_timeout", "session_prefix",
                   "max_in_flight", "subscribe", "ping_interval", "ping_timeout", "max_message_bytes",
                   "bad_token_fraction", "protocol", "compression", "mcp_protocol_version", "rpc_hello",
                   "max_server_names", "session_calls")  # fmt: skip
"""Options that are also ToolCallUser attributes: an option differing from its default overrides the attribute."""
DEFAULTS: dict[str, Any] = {name: value for name, value in defaults(OPTIONS).items() if name in USER_ATTRIBUTES}
"""Defaults shared by the options and ToolCallUser's attributes."""


class OptionError(ValueError):
    """An option value that cannot work; the message names the option."""


def add_user_arguments(parser: Any) -> None:
    """Register the options on Locust's parser (`events.init_command_line_parser` listener)."""
    add_options(parser, OPTIONS)


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


def check_options(options: argparse.Namespace, *, need_credentials: bool = True) -> tuple[str, str] | None:
    """Raise OptionError naming the first option whose value cannot work; the private key file's (PEM text,
    algorithm) when one is given, read here once (users/load/config.py keeps it), else None."""
    host = getattr(options, "host", None)
    scheme = urlsplit(host).scheme if host else "ws"
    if scheme not in ("ws", "wss"):  # the rest of the URL is not echoed: it may carry a token
        raise OptionError(f"--host must be a ws:// or wss:// URL, not {scheme or 'one without a scheme'}")
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
    key = _private_key(options.jwt_private_key) if getattr(options, "jwt_private_key", None) else None
    problem = first_problem(OPTIONS, options)
    if problem:
        raise OptionError(problem)
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
    try:
        parse_tool_spec(options.tools)
    except ToolMixError as exc:
        raise OptionError(str(exc)) from None
    if options.ca_file and options.insecure:
        raise OptionError("--ca-file and --insecure exclude each other")
    try:
        parse_thresholds(getattr(options, "threshold", ""))
    except ThresholdError as exc:
        raise OptionError(f"--threshold {exc}") from None
    return key


def token_source(options: Any, private_key: tuple[str, str] | None = None) -> TokenSource:
    """The token source the options (or a RunConfig) describe, assuming `check_options` passed; `private_key` is the
    key file's (PEM, algorithm) when it was already read (a RunConfig holds it), else the file is read here."""
    if options.token:
        return StaticToken(options.token)
    scope = tuple(s.strip() for s in options.jwt_scope.split(",") if s.strip())
    if options.jwt_private_key:
        key, algorithm = private_key or _private_key(options.jwt_private_key)
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
