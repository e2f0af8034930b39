"""The checks of the options that choose the wire protocol and compression (pure, no locust import; the options
themselves are rows of users.load.options.OPTIONS)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from typing import Any

from users.wire.protocol import Dialect
from users.wire.protocols import PROTOCOLS, JsonRpc, Mcp, Protocol, ToolCall

COMPRESSIONS = ("deflate",)


class ProtocolOptionError(ValueError):
    """A protocol option value that cannot work (users.load.options turns it into its OptionError)."""


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
