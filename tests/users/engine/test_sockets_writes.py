"""users.engine.sockets: whole batches in order over a real non-blocking socket pair, whoever writes (a greenlet
or the hub), even when the peer reads slowly and writes block."""

from __future__ import annotations

import _socket
import socket
from time import perf_counter

import gevent
import gevent.event
from gevent.hub import get_hub

from users.engine.sockets import SocketWriter
from users.wire.core import ClientCore
from users.wire.settings import ClientSettings

CHUNK = 64 * 1024


def writer_pair() -> tuple[SocketWriter, socket.socket]:
    ours, theirs = _socket.socketpair()
    ours.setblocking(False)
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    core = ClientCore(ClientSettings(), perf_counter())
    return SocketWriter(ours, core, lambda: None, plain=True), socket.socket(fileno=theirs.detach())


def read_all(peer: socket.socket, size: int) -> bytes:
    got = bytearray()
    while len(got) < size:
        gevent.sleep(0.001)  # a slow reader: the writer blocks meanwhile
        got += peer.recv(CHUNK)
    return bytes(got)


def test_a_blocked_write_makes_the_writer_busy_and_a_hub_write_waits_its_turn() -> None:
    writer, peer = writer_pair()
    peer.setblocking(False)
    first, second = b"a" * (4 * CHUNK), b"b" * (2 * CHUNK)
    blocked = gevent.spawn(writer.write, first, perf_counter())
    gevent.sleep(0)  # the write fills the buffer and blocks
    assert writer.busy
    reader = gevent.spawn(lambda: read_all(_blocking(peer), len(first) + len(second)))
    blocked.join(timeout=10)
    assert blocked.successful() and not writer.busy
    done = gevent.event.Event()

    def from_hub() -> None:  # as the rate driver and the closed loop write: from a hub callback
        writer.write_from_hub(second, perf_counter())
        done.set()

    get_hub().loop.run_callback(from_hub)
    done.wait(timeout=10)
    assert reader.get(timeout=10) == first + second  # never interleaved, never torn
    assert not writer.busy and not writer.broken
    writer.close()
    peer.close()


def _blocking(peer: socket.socket) -> socket.socket:
    peer.setblocking(True)
    return peer


def test_closing_fails_a_blocked_write_at_once_and_the_writer_stays_broken() -> None:
    writer, peer = writer_pair()
    blocked = gevent.spawn(writer.write, b"x" * (8 * CHUNK), perf_counter())
    gevent.sleep(0.01)
    assert writer.busy
    writer.close()
    blocked.join(timeout=5)
    assert isinstance(blocked.exception, OSError)
    assert writer.broken
    peer.close()
