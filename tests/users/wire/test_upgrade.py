"""The hand-written upgrade (users/wire/upgrade.py) accepts and rejects what websocket-client does, within bounds."""

from __future__ import annotations

import socket

import pytest
from websocket import WebSocketException
from websocket._handshake import SUPPORTED_REDIRECT_STATUSES, _get_handshake_headers, _get_resp_headers, _validate

from users.wire.upgrade import (
    MAX_HEADER_BYTES,
    HandshakeError,
    Response,
    ResponseParser,
    accept_for,
    check_response,
    request_bytes,
    target_of,
)

KEY = "dGhlIHNhbXBsZSBub25jZQ=="
ACCEPT = accept_for(KEY)
GOOD = (
    f"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {ACCEPT}"
)

RESPONSES: dict[str, tuple[str, tuple[str, ...]]] = {
    "good": (GOOD + "\r\n\r\n", ()),
    "good, LF only": (GOOD.replace("\r\n", "\n") + "\n\n", ()),
    "good, no reason": (GOOD.replace("101 Switching Protocols", "101") + "\r\n\r\n", ()),
    "good, odd case and lists": (
        f"HTTP/1.1 101 OK\r\nUPGRADE: WebSocket\r\nconnection: keep-alive, Upgrade\r\n"
        f"sec-websocket-accept: {ACCEPT.lower()}\r\nX-Other: a:b\r\n\r\n",
        (),
    ),
    "subprotocol chosen": (GOOD + "\r\nSec-WebSocket-Protocol: MCP\r\n\r\n", ("mcp", "other")),
    "subprotocol not offered": (GOOD + "\r\nSec-WebSocket-Protocol: chat\r\n\r\n", ("mcp",)),
    "subprotocol offered, none chosen": (GOOD + "\r\n\r\n", ("mcp",)),
    "wrong accept": (GOOD.replace(ACCEPT, accept_for("other")) + "\r\n\r\n", ()),
    "no accept": (GOOD.split("\r\nSec-WebSocket-Accept")[0] + "\r\n\r\n", ()),
    "no upgrade": (GOOD.replace("Upgrade: websocket\r\n", "") + "\r\n\r\n", ()),
    "upgrade h2c": (GOOD.replace("Upgrade: websocket", "Upgrade: h2c") + "\r\n\r\n", ()),
    "connection close": (GOOD.replace("Connection: Upgrade", "Connection: close") + "\r\n\r\n", ()),
    "space before colon": (GOOD.replace("Upgrade: websocket", "Upgrade : websocket") + "\r\n\r\n", ()),
    "repeated upgrade, last wins": (GOOD + "\r\nUpgrade: h2c\r\n\r\n", ()),
    "status 200": (GOOD.replace("101 Switching Protocols", "200 OK") + "\r\n\r\n", ()),
    "status 401": ("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n", ()),
    "status 503": ("HTTP/1.1 503 Busy\r\nRetry-After: 5\r\nContent-Length: 0\r\n\r\n", ()),
    "redirect 301": ("HTTP/1.1 301 Moved\r\nLocation: ws://elsewhere/\r\n\r\n", ()),
    "redirect 308": ("HTTP/1.1 308 Moved\r\nLocation: /next\r\n\r\n", ()),
    "bad status line": ("HTTP/1.1 abc Nope\r\n\r\n", ()),
    "status line alone": ("HTTP/1.1\r\n\r\n", ()),
    "header without colon": (GOOD + "\r\nno colon here\r\n\r\n", ()),
}


def websocket_client_verdict(raw: bytes, subprotocols: tuple[str, ...]) -> tuple[str, int | None, str | None]:
    """What websocket-client 1.9 makes of `raw` (its own header reader and checks, on a real socket)."""
    ours, theirs = socket.socketpair()
    with ours, theirs:
        theirs.sendall(raw)
        theirs.shutdown(socket.SHUT_WR)
        ours.settimeout(2)
        try:
            status, headers = _get_resp_headers(ours)
        except WebSocketException as exc:
            return "reject", getattr(exc, "status_code", None), None
    if status in SUPPORTED_REDIRECT_STATUSES:
        return "redirect", status, None
    ok, chosen = _validate(headers, KEY, list(subprotocols) or None)
    return ("accept" if ok else "reject"), status, chosen


def our_verdict(raw: bytes, subprotocols: tuple[str, ...], chunk: int) -> tuple[str, int | None, str | None]:
    """The same for users/wire/upgrade.py, fed `chunk` bytes at a time."""
    parser = ResponseParser()
    response = None
    try:
        for at in range(0, len(raw), chunk):
            response = parser.feed(raw[at : at + chunk])
            if response is not None:
                break
        if response is None:
            raise parser.end_of_stream()
    except HandshakeError:
        return "reject", None, None
    if response.status in (301, 302, 303, 307, 308):
        return "redirect", response.status, None
    try:
        return "accept", response.status, check_response(response, KEY, subprotocols)
    except HandshakeError:
        return "reject", response.status, None


@pytest.mark.parametrize("name", sorted(RESPONSES))
@pytest.mark.parametrize("chunk", [1, 7, 4096])
def test_accepts_and_rejects_what_websocket_client_does(name: str, chunk: int) -> None:
    text, subprotocols = RESPONSES[name]
    raw = text.encode()
    expected = websocket_client_verdict(raw, subprotocols)
    assert our_verdict(raw, subprotocols, chunk) == expected, name


def test_the_verdicts_are_not_all_alike() -> None:
    verdicts = {our_verdict(t.encode(), s, 4096)[0] for t, s in RESPONSES.values()}
    assert verdicts == {"accept", "reject", "redirect"}


def test_invalid_utf8_is_rejected_as_websocket_client_does() -> None:
    raw = (GOOD + "\r\nX-Bad: \xff\xfe\r\n\r\n").encode("latin-1")
    assert websocket_client_verdict(raw, ())[0] == "reject"
    with pytest.raises(HandshakeError, match="not UTF-8"):
        ResponseParser().feed(raw)


def test_bytes_after_the_header_are_kept_for_the_frame_reader() -> None:
    frame = b"\x81\x05hello"
    parser = ResponseParser()
    assert parser.feed((GOOD + "\r\n").encode()) is None
    response = parser.feed(b"\r\n" + frame)
    assert response is not None and response.rest == frame and response.status == 101


def test_an_endless_header_line_is_refused_within_the_byte_cap() -> None:
    parser = ResponseParser()
    fed = 0
    with pytest.raises(HandshakeError, match="handshake header too large"):
        parser.feed(b"HTTP/1.1 101 Switching Protocols\r\nX-Endless: ")
        while fed < 10 * MAX_HEADER_BYTES:
            parser.feed(b"a" * 4096)
            fed += 4096
    assert fed <= MAX_HEADER_BYTES


def test_too_many_header_lines_are_refused() -> None:
    parser = ResponseParser()
    with pytest.raises(HandshakeError, match="too many lines"):
        parser.feed(b"HTTP/1.1 101 Switching Protocols\r\n" + b"X: y\r\n" * 100)


def test_a_connection_that_ends_mid_header_is_named() -> None:
    assert str(ResponseParser().end_of_stream()) == "connection closed during the handshake"


def test_retry_after_is_kept_only_for_429_and_503() -> None:
    for status, expected in ((503, "7"), (429, "7"), (500, None)):
        with pytest.raises(HandshakeError) as caught:
            check_response(Response(status, {"retry-after": "7"}), KEY, ())
        assert str(caught.value) == f"HTTP {status}" and caught.value.retry_after == expected


@pytest.mark.parametrize(
    "url",
    ["ws://127.0.0.1:8079/", "wss://example.test/path?x=1", "ws://[::1]:9000", "ws://host:80/a", "wss://h:443/"],
)
@pytest.mark.parametrize("subprotocols", [(), ("mcp", "chat")])
def test_the_request_carries_websocket_clients_headers(url: str, subprotocols: tuple[str, ...]) -> None:
    target = target_of(url)
    extra = ["Authorization: Bearer x", "X-Test: 1"]
    theirs, _ = _get_handshake_headers(
        target.resource, url, target.host, target.port, {"header": extra, "subprotocols": list(subprotocols)}
    )
    theirs = [f"Sec-WebSocket-Key: {KEY}" if line.startswith("Sec-WebSocket-Key:") else line for line in theirs]
    assert request_bytes(target, KEY, subprotocols, extra) == "\r\n".join(theirs).encode()


def test_http_locations_count_as_their_websocket_schemes() -> None:
    assert target_of("http://x/a").origin == "ws://x" and target_of("https://x:8443/").origin == "wss://x:8443"


@pytest.mark.parametrize("url", ["gopher://x/", "ftp://x/", "ws:///nohost", "ws://x:99999/"])
def test_urls_that_cannot_be_upgraded_are_refused(url: str) -> None:
    with pytest.raises(HandshakeError):
        target_of(url)
