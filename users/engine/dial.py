"""The upgrade on a socket: TCP, TLS, the request, the bounded response read, redirects; one deadline for all.

Thin on purpose: what the bytes mean is users/wire/upgrade.py and users/wire/redirects.py (pure). Reads take at most
`READ_BYTES` at a time and the header is capped, so a server that streams an endless header cannot keep the
hub busy; `settings.connect_timeout_s` bounds the whole handshake (a server dripping a byte at a time
included), through a gevent.Timeout and a deadline checked after each read.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from time import perf_counter
from typing import Any

import gevent

from users.engine.watchdog import reading
from users.wire.redirects import MAX_REDIRECTS, redirect_url
from users.wire.settings import ClientSettings
from users.wire.upgrade import (
    HandshakeError,
    Response,
    ResponseParser,
    Target,
    check_response,
    new_key,
    request_bytes,
    target_of,
)

READ_BYTES = 4096
SOCKET_OPTIONS = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1), (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]
"""As websocket-client sets them: no Nagle delay for small frames; keepalive (idle times below where known)."""
for _name, _value in (("TCP_KEEPIDLE", 30), ("TCP_KEEPINTVL", 10), ("TCP_KEEPCNT", 3)):
    if hasattr(socket, _name):
        SOCKET_OPTIONS.append((socket.IPPROTO_TCP, getattr(socket, _name), _value))


@dataclass
class Upgraded:
    """An upgraded connection: its socket (blocking), the answer's headers, the bytes read past them."""

    sock: Any
    headers: dict[str, str]
    rest: bytes
    subprotocol: str | None


def dial(url: str, settings: ClientSettings, headers: Sequence[str] = ()) -> Upgraded:
    """Open and upgrade a connection to `url` within `settings.connect_timeout_s` (redirects only when
    `settings.follow_redirects`, within the origin); HandshakeError, OSError or ssl.SSLError when it fails."""
    timeout = settings.connect_timeout_s
    timed_out = HandshakeError(f"handshake timed out after {timeout:.1f} s")
    deadline = perf_counter() + timeout
    subprotocols = [*settings.subprotocols, *settings.wire_protocol().subprotocols]
    current = url
    try:
        with gevent.Timeout(timeout, timed_out):
            for hops in range(MAX_REDIRECTS + 1):
                target = target_of(current)
                sock = open_socket(target, settings.sslopt, deadline)
                try:
                    key = new_key()
                    sock.sendall(request_bytes(target, key, subprotocols, [*settings.headers, *headers]))
                    response = read_response(sock, deadline, target.origin)
                    following = redirect_url(response, current, settings.follow_redirects, hops)
                    if following is None:
                        chosen = check_response(response, key, subprotocols)
                        sock.settimeout(None)
                        if target.secure:
                            remember_session(target, settings.sslopt, sock)
                        return Upgraded(sock, response.headers, response.rest, chosen)
                except BaseException:
                    sock.close()
                    raise
                sock.close()
                current = following
    except TimeoutError:  # a socket operation's own timeout: the same deadline
        raise timed_out from None
    raise HandshakeError(f"more than {MAX_REDIRECTS} redirects")


@functools.lru_cache(maxsize=64)
def literal_family(host: str) -> int | None:
    """The address family of a host that is an IP address (no resolution needed), None for a name."""
    try:
        return socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    except ValueError:
        return None


def tcp_connect(host: str, port: int, timeout: float) -> Any:
    """A connected TCP socket; an IP address is connected to directly, without a resolver round trip (gevent's
    runs `getaddrinfo` in its thread pool, a third of TCP set-up's CPU for a connection per session)."""
    family = literal_family(host)
    if family is None:
        return socket.create_connection((host, port), timeout=timeout)
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


def open_socket(target: Target, sslopt: dict[str, Any], deadline: float) -> Any:
    """TCP (and TLS for wss://) to `target`, before `deadline`."""
    sock = tcp_connect(target.host, target.port, max(deadline - perf_counter(), 0.001))
    try:
        for option in SOCKET_OPTIONS:
            sock.setsockopt(*option)
        if target.secure:
            sock.settimeout(max(deadline - perf_counter(), 0.001))
            context = tls_context(sslopt)
            session = _SESSIONS.get((target.host, target.port, id(context)))
            sock = context.wrap_socket(sock, server_hostname=target.host, session=session)
    except BaseException:
        sock.close()
        raise
    return sock


def read_response(sock: Any, deadline: float, label: str) -> Response:
    """The response head, read in chunks of at most READ_BYTES before `deadline` (capped by the parser)."""
    parser = ResponseParser()
    while True:
        remaining = deadline - perf_counter()
        if remaining <= 0:
            raise TimeoutError
        sock.settimeout(remaining)
        data = sock.recv(READ_BYTES)
        if not data:
            raise parser.end_of_stream()
        with reading(label, sock):  # what does not yield: the watchdog names this connection if it held the hub
            response = parser.feed(data)
        if response is not None:
            return response


_CONTEXTS: dict[tuple[Any, ...], ssl.SSLContext] = {}
_SESSIONS: dict[tuple[str, int, int], ssl.SSLSession] = {}
"""(host, port, context) -> the last TLS session its server gave: the next connection offers it (resumption, when
the server allows it, skips the certificate exchange and its signature check). One per origin and context."""


def remember_session(target: Target, sslopt: dict[str, Any], sock: Any) -> None:
    """Keep the TLS session of an upgraded `sock` for the next connection to its origin (TLS 1.3 sends its session
    tickets after the handshake: by the time the upgrade's answer is read they have come). A connection that resumed
    keeps the session it offered, which resumes again: reading a session costs about what resuming saves (CPython
    copies it through DER, the server's certificate included), so it is read only after a full handshake."""
    if getattr(sock, "session_reused", False):
        return
    session = getattr(sock, "session", None)
    if session is not None:
        _SESSIONS[(target.host, target.port, id(tls_context(sslopt)))] = session


def tls_context(sslopt: dict[str, Any]) -> ssl.SSLContext:
    """The TLS context for the users' sslopt (`{}`: verify with the system CAs; `ca_certs`: a private CA;
    `cert_reqs` CERT_NONE: no verification), made once per setting."""
    key = tuple(sorted(sslopt.items()))
    context = _CONTEXTS.get(key)
    if context is None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if sslopt.get("cert_reqs", ssl.CERT_REQUIRED) == ssl.CERT_NONE:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        elif sslopt.get("ca_certs"):
            context.load_verify_locations(cafile=sslopt["ca_certs"])
        else:
            context.load_default_certs(ssl.Purpose.SERVER_AUTH)
        context = _CONTEXTS[key] = context
    return context
