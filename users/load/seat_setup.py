"""What a user's options make of its seat: the wire protocol, client settings, credentials, TLS, subscription."""

from __future__ import annotations

import logging
import ssl
from typing import Any

from users.engine.client import ClientSettings
from users.load.config import RunConfig
from users.load.options import token_source
from users.load.runtime import Runtime
from users.wire.auth import TokenSource
from users.wire.protocol import CallTemplate
from users.wire.protocols.base import Protocol, Template
from users.wire.protocols.options import build_protocol

logger = logging.getLogger(__name__)


def subscribe_template(spec: str, protocol: Protocol | None = None) -> Template | None:
    """`TOPIC[:RATE[:COUNT]]` as the subscribe call it stands for (in `protocol`, default toolcall); None when
    empty."""
    if not spec:
        return None
    parts = spec.split(":")
    arguments: dict[str, Any] = {"topic": parts[0]}
    if len(parts) > 1:
        arguments["rate"] = float(parts[1])
    if len(parts) > 2:
        arguments["count"] = int(parts[2])
    return CallTemplate("subscribe", arguments) if protocol is None else protocol.template("subscribe", arguments)


def token_source_for(runtime: Runtime, config: RunConfig) -> TokenSource | None:
    """One token source per process, so tokens are minted once, not per connection; None without credentials
    (a protocol whose upgrade then carries no token)."""
    if not (config.jwt_secret or config.token or config.jwt_private_key):
        return None
    key = (
        config.jwt_secret,
        config.token,
        config.private_key_pem,
        config.jwt_subject,
        config.jwt_scope,
        config.jwt_ttl,
        config.jwt_audience,
    )
    cached = runtime.token_cache
    if cached is None or cached[0] != key:
        cached = runtime.token_cache = (key, token_source(config, (config.private_key_pem, config.key_algorithm)))
    return cached[1]


def sslopt(options: RunConfig) -> dict[str, Any]:
    """The TLS options of --insecure (warned once per process) or --ca-file."""
    if options.insecure:
        if not getattr(sslopt, "warned", False):
            logger.warning("--insecure: TLS certificates are NOT verified for this run")
            sslopt.warned = True  # type: ignore[attr-defined]
        return {"cert_reqs": ssl.CERT_NONE, "check_hostname": False}
    if options.ca_file:
        return {"ca_certs": options.ca_file}
    return {}


def wire_protocol(user: Any) -> Protocol:
    """The Protocol instance a user's `protocol` attribute (or option) names."""
    if isinstance(user.protocol, Protocol):
        return user.protocol
    return build_protocol(
        user.protocol, dialect=user.dialect, mcp_protocol_version=user.mcp_protocol_version, rpc_hello=user.rpc_hello
    )


def client_settings(user: Any, config: RunConfig | None, protocol: Protocol) -> ClientSettings:
    """The ClientSettings of a user's connections: its (option-applied) attributes, TLS and redirects from
    `config`."""
    return ClientSettings(
        connect_timeout_s=user.connect_timeout,
        hello_timeout_s=user.hello_timeout,
        call_timeout_s=user.call_timeout,
        max_message_bytes=user.max_message_bytes,
        ping_interval_s=user.ping_interval,
        ping_timeout_s=user.ping_timeout,
        headers=tuple(user.headers),
        subprotocols=tuple(user.subprotocols),
        sslopt=sslopt(config) if config is not None else {},
        dialect=user.dialect,
        protocol=protocol,
        compression=user.compression,
        follow_redirects=config.follow_redirects if config is not None else False,
    )
