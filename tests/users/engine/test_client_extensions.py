"""ToolClient's upgrade: an extension answer that was not offered is a clear connect failure, on a real socket."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

import gevent
import pytest
from gevent.server import StreamServer

from tests.support.client_helpers import Recorder
from users.engine.client import ClientSettings, ToolClient
from users.wire.errors import ConnectFailed
from users.wire.metrics import WsCounters
from users.wire.protocols import JsonRpc

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


@contextmanager
def upgrade_answering(extensions: str) -> Iterator[tuple[str, list[bytes]]]:
    """A server that accepts every upgrade with `Sec-WebSocket-Extensions: <extensions>`; yields its URL and
    the requests it saw."""
    requests: list[bytes] = []

    def handle(sock, _address) -> None:  # type: ignore[no-untyped-def]
        request = b""
        while b"\r\n\r\n" not in request:
            chunk = sock.recv(4096)
            if not chunk:
                return
            request += chunk
        requests.append(request)
        key = next(
            line.split(b":", 1)[1].strip()
            for line in request.split(b"\r\n")
            if line.lower().startswith(b"sec-websocket-key:")
        )
        accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
        sock.sendall(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept + b"\r\nSec-WebSocket-Extensions: " + extensions.encode() + b"\r\n\r\n"
        )
        gevent.sleep(1.0)  # hold the connection; the client decides

    server = StreamServer(("127.0.0.1", 0), handle)
    server.start()
    try:
        yield f"ws://127.0.0.1:{server.server_port}/", requests
    finally:
        server.stop(timeout=1)


@pytest.mark.parametrize(
    ("compression", "answer", "message"),
    [
        ("", "permessage-deflate", "server accepted extensions that were not offered: permessage-deflate"),
        ("deflate", "permessage-deflate; mystery=1", "permessage-deflate parameter not offered: mystery"),
        (
            "deflate",
            "x-webkit-deflate-frame",
            "server accepted an extension that was not offered: x-webkit-deflate-frame",
        ),
    ],
)
def test_an_extension_not_offered_fails_the_connect(compression: str, answer: str, message: str) -> None:
    recorder = Recorder()
    counters = WsCounters()
    settings = ClientSettings(protocol=JsonRpc(), compression=compression, connect_timeout_s=5.0)
    with upgrade_answering(answer) as (url, requests):
        client = ToolClient(url, fire=recorder, counters=counters, settings=settings)
        with pytest.raises(ConnectFailed) as caught:
            client.connect("secret-token")
    assert repr(caught.value) == f"connect_failed: {message}"
    (event,) = recorder.named("connect")
    assert event["exception"] is caught.value and counters.connect_failures == 1 and counters.connects == 0
    offered = b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits" in requests[0]
    assert offered == (compression == "deflate")
    assert b"Authorization: Bearer secret-token" in requests[0]
