"""ToolClient's own upgrade on a real socket: frames that came in the same read as the 101 are not lost."""

from __future__ import annotations

import gevent
from gevent.server import StreamServer

from tests.support.client_helpers import Recorder, wait_until
from tests.support.misbehaving_server import server_frame, take_client_frame
from users.engine.client import ClientSettings, ToolClient
from users.wire.metrics import WsCounters
from users.wire.protocols import JsonRpc
from users.wire.upgrade import accept_for


def test_a_ping_sent_with_the_101_is_answered() -> None:
    received: list[tuple[int, bytes]] = []

    def handle(sock, _address) -> None:  # type: ignore[no-untyped-def]
        request = b""
        while b"\r\n\r\n" not in request:
            request += sock.recv(4096)
        key = next(
            line.split(b":", 1)[1].strip().decode()
            for line in request.split(b"\r\n")
            if line.lower().startswith(b"sec-websocket-key:")
        )
        answer = (
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Accept: {accept_for(key)}\r\n\r\n"
        ).encode()
        sock.sendall(answer + server_frame(b"early", 0x9))  # one write: the ping comes in the 101's read
        buffer = bytearray()
        while (frame := take_client_frame(buffer)) is None:
            chunk = sock.recv(4096)
            if not chunk:
                return
            buffer += chunk
        received.append(frame)
        gevent.sleep(0.5)

    server = StreamServer(("127.0.0.1", 0), handle)
    server.start()
    try:
        settings = ClientSettings(protocol=JsonRpc(), connect_timeout_s=5.0)
        client = ToolClient(
            f"ws://127.0.0.1:{server.server_port}/", fire=Recorder(), counters=WsCounters(), settings=settings
        )
        client.connect()
        wait_until(lambda: bool(received))
        client.drop("test over")
    finally:
        server.stop(timeout=1)
    assert received == [(0xA, b"early")]
