"""The options that choose the wire protocol and compression, and their checks (pure, no locust import)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from typing import Any

from users.protocol import Dialect
from users.protocols import PROTOCOLS, JsonRpc, Mcp, Protocol, ToolCall

COMPRESSIONS = ("deflate",)


class ProtocolOptionError(ValueError):
    """A protocol option value that cannot work (users.options turns it into its OptionError)."""


def add_protocol_arguments(parser: Any, defaults: Mapping[str, Any]) -> None:
    """--protocol, --compression, --mcp-protocol-version, --rpc-hello on Locust's parser."""
    parser.add_argument(
        "--protocol",
        env_var="LOCUST_PROTOCOL",
        default=defaults["protocol"],
        help="Wire protocol: toolcall (PROTOCOL.md: hello, call_tool), jsonrpc (JSON-RPC 2.0, a tool is a method) "
        "or mcp (Model Context Protocol over WebSocket: initialize, tools/call).",
    )
    parser.add_argument(
        "--compression",
        env_var="LOCUST_COMPRESSION",
        default=defaults["compression"],
        help="deflate: offer permessage-deflate (RFC 7692) and compress when the server accepts; empty: none.",
    )
    parser.add_argument(
        "--mcp-protocol-version",
        env_var="LOCUST_MCP_PROTOCOL_VERSION",
        default=defaults["mcp_protocol_version"],
        help="--protocol mcp: the protocolVersion sent in initialize.",
    )
    parser.add_argument(
        "--rpc-hello",
        env_var="LOCUST_RPC_HELLO",
        default=defaults["rpc_hello"],
        help="--protocol jsonrpc: a handshake request sent first and timed as hello, METHOD[=JSON-PARAMS], e.g. "
        'auth={"user":"load"}; empty: none.',
    )


def parse_rpc_hello(spec: str) -> tuple[str, Any]:
    """`METHOD[=JSON-PARAMS]` as (method, params); ProtocolOptionError when it is not."""
    method, sep, params = spec.partition("=")
    method = method.strip()
    if not method or any(c.isspace() for c in method):
        raise ProtocolOptionError(f"--rpc-hello must be METHOD[=JSON-PARAMS], got {spec!r}")
    if not sep:
        return method, {}
    try:
        return method, json.loads(params)
    except json.JSONDecodeError as exc:
        raise ProtocolOptionError(f"--rpc-hello: params of {method!r} are not valid JSON: {exc.msg}") from None


def check_protocol_options(options: argparse.Namespace, defaults: Mapping[str, Any]) -> None:
    """Raise ProtocolOptionError for an unknown protocol or compression, or an option the protocol ignores."""
    name = getattr(options, "protocol", defaults["protocol"])
    if name not in PROTOCOLS:
        raise ProtocolOptionError(f"--protocol must be one of {', '.join(sorted(PROTOCOLS))}, got {name!r}")
    compression = getattr(options, "compression", "")
    if compression and compression not in COMPRESSIONS:
        raise ProtocolOptionError(f"--compression must be deflate (or empty for none), got {compression!r}")
    if name != "mcp" and getattr(options, "mcp_protocol_version", None) not in (None, defaults["mcp_protocol_version"]):
        raise ProtocolOptionError(f"--mcp-protocol-version only applies to --protocol mcp, not {name}")
    if not getattr(options, "mcp_protocol_version", "x").strip():
        raise ProtocolOptionError("--mcp-protocol-version must not be empty")
    rpc_hello = getattr(options, "rpc_hello", "")
    if rpc_hello:
        if name != "jsonrpc":
            raise ProtocolOptionError(f"--rpc-hello only applies to --protocol jsonrpc, not {name}")
        parse_rpc_hello(rpc_hello)
    if name != "toolcall" and getattr(options, "session_prefix", None) not in (None, defaults["session_prefix"]):
        raise ProtocolOptionError(f"--session-prefix only applies to --protocol toolcall ({name} sends no session id)")


def build_protocol(name: str, *, dialect: Dialect, mcp_protocol_version: str, rpc_hello: str) -> Protocol:
    """The protocol `name` with its options (assumes `check_protocol_options` passed)."""
    if name == "toolcall":
        return ToolCall(dialect)
    if name == "jsonrpc":
        return JsonRpc(*parse_rpc_hello(rpc_hello)) if rpc_hello else JsonRpc()
    if name == "mcp":
        return Mcp(mcp_protocol_version)
    return PROTOCOLS[name]()
