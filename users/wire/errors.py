"""Failures the users report to Locust; each repr is a short, bounded code Locust groups failures by."""

from __future__ import annotations

from collections.abc import Sequence


class WsFailure(Exception):
    """Base of every failure this package reports; `code` is what the failures table shows."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail

    def __repr__(self) -> str:
        return self.code if not self.detail else f"{self.code}: {self.detail}"


class ConnectFailed(WsFailure):
    """TCP, TLS or WebSocket handshake failed; `detail` names the cause (never the URL's query or a token);
    `retry_after_s`: the wait a 429 or 503 answer asked for (Retry-After), if any."""

    def __init__(self, detail: str, retry_after_s: float | None = None) -> None:
        super().__init__("connect_failed", detail)
        self.retry_after_s = retry_after_s


class HelloRefused(WsFailure):
    """The server answered hello with an error code (e.g. token_expired) or closed instead."""


class CallFailed(WsFailure):
    """The server answered a call with ok:false; `code` is its error code."""

    def __init__(self, code: str) -> None:
        super().__init__(code)


class CallTimeout(WsFailure):
    """No result within the call timeout."""

    def __init__(self) -> None:
        super().__init__("timeout")


class ConnectionLost(WsFailure):
    """The connection ended while the call was in flight; `detail` says how (`close 1011 overloaded`, `reset`)."""

    def __init__(self, detail: str = "") -> None:
        super().__init__("connection_lost", detail)
        self.how = detail


class WriteTimeout(WsFailure):
    """The server took no bytes for longer than the call timeout: the connection is given up."""

    def __init__(self) -> None:
        super().__init__("write_timeout")


class ServerProtocolError(WsFailure):
    """The server sent something the protocol does not allow (bad JSON, binary frame, unknown request_id...)."""


def describe_os_error(exc: BaseException) -> str:
    """A short, secret-free description of a connection error."""
    inner = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else None
    if inner is not None:  # websocket-client wraps socket errors (e.g. WebSocketAddressException(gaierror))
        return describe_os_error(inner)
    name = type(exc).__name__
    reason = getattr(exc, "verify_message", None) or getattr(exc, "strerror", None) or getattr(exc, "reason", None)
    if isinstance(reason, str) and reason:
        return f"{name}: {reason}"
    status = getattr(exc, "status_code", None)
    if status:
        return f"{name}: HTTP {status}"
    return name


def connect_hint(url: str, description: str, subprotocols: Sequence[str] = ()) -> str:
    """A likely cause to name beside a failed handshake's description ("" when none): TLS spoken to a plain
    server, or a subprotocol (--protocol) the server did not accept."""
    if url.lower().startswith("wss://") and ("SSL" in description or "timed out" in description.lower()):
        return "is the server plain ws://? (then -H ws://...)"
    if subprotocols and "chose no offered subprotocol" in description:
        return f"the server did not accept subprotocol {', '.join(subprotocols)}: check --protocol"
    return ""
