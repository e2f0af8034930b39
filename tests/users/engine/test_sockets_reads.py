"""users.engine.sockets: a plain socket read from the hub, a TLS-style one from a greenlet, over real socket
pairs: every chunk in order, the end said once, nothing after stop."""

from __future__ import annotations

import _socket
import socket

import gevent
from gevent.hub import get_hub

from users.engine.sockets import GreenletReader, HubReader, how_it_ended


class Sink:
    """Records what a reader hands over, and where (hub or greenlet)."""

    def __init__(self, keep_reading: bool = True) -> None:
        self.chunks: list[bytes] = []
        self.in_hub: list[bool] = []
        self.ends: list[str] = []
        self.keep_reading = keep_reading

    def data(self, chunk: bytes, in_hub: bool) -> bool:
        self.chunks.append(chunk)
        self.in_hub.append(in_hub and gevent.getcurrent() is get_hub())
        return self.keep_reading

    def end(self, how: str, in_hub: bool) -> None:
        self.ends.append(how)


def plain_pair() -> tuple[_socket.socket, socket.socket]:
    ours, theirs = _socket.socketpair()
    ours.setblocking(False)
    return ours, socket.socket(fileno=theirs.detach())


def wait_for(condition: object, timeout_s: float = 5.0) -> None:
    with gevent.Timeout(timeout_s):
        while not condition():  # type: ignore[operator]
            gevent.sleep(0.001)


def test_the_hub_reader_hands_over_every_chunk_in_the_hub_then_the_end_once() -> None:
    ours, theirs = plain_pair()
    sink = Sink()
    reader = HubReader(ours, sink.data, sink.end)
    for chunk in (b"one", b"two", b"three"):
        theirs.sendall(chunk)
        wait_for(lambda c=chunk: b"".join(sink.chunks).endswith(c))
    theirs.close()
    wait_for(lambda: sink.ends)
    gevent.sleep(0.01)
    assert b"".join(sink.chunks) == b"onetwothree" and all(sink.in_hub)
    assert sink.ends == ["eof"]
    reader.stop()  # stopping twice (the end stopped it already) is harmless
    ours.close()


def test_a_stopped_hub_reader_hands_over_nothing_more() -> None:
    ours, theirs = plain_pair()
    sink = Sink(keep_reading=False)  # the first chunk closes the core: reading stops there
    HubReader(ours, sink.data, sink.end)
    theirs.sendall(b"first")
    wait_for(lambda: sink.chunks)
    theirs.sendall(b"second")
    theirs.close()
    gevent.sleep(0.05)
    assert sink.chunks == [b"first"] and sink.ends == []
    ours.close()


def test_the_greenlet_reader_reads_a_gevent_socket_and_says_how_it_ended() -> None:
    ours, theirs = socket.socketpair()  # gevent's sockets (Locust patches the standard library)
    sink = Sink()
    reader = GreenletReader(ours, sink.data, sink.end)
    theirs.sendall(b"hello")
    wait_for(lambda: sink.chunks)
    theirs.close()
    wait_for(lambda: sink.ends)
    assert sink.chunks == [b"hello"] and sink.in_hub == [False] and sink.ends == ["eof"]
    reader.stop()
    ours.close()


def test_resets_read_as_reset_and_other_errors_by_name() -> None:
    assert how_it_ended(ConnectionResetError()) == "reset" and how_it_ended(BrokenPipeError()) == "reset"
    assert how_it_ended(TimeoutError("timed out")).startswith("TimeoutError")


def test_a_paused_hub_reader_leaves_data_in_the_socket_until_resumed() -> None:
    ours, theirs = plain_pair()
    sink = Sink()
    reader = HubReader(ours, sink.data, sink.end)
    reader.pause()
    theirs.sendall(b"waiting")
    gevent.sleep(0.05)
    assert sink.chunks == []  # still in the kernel's buffer: the sender meets flow control, not our memory
    reader.resume()
    wait_for(lambda: sink.chunks)
    assert sink.chunks == [b"waiting"]
    reader.stop()
    reader.resume()  # after stop: nothing to resume
    theirs.sendall(b"late")
    gevent.sleep(0.02)
    assert sink.chunks == [b"waiting"]
    ours.close()
    theirs.close()
