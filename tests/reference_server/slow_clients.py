"""Helpers for the slow-client tests: slowloris sockets, socket liveness, worker memory."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psutil

from reference_server.launcher import RunningServer

#: A complete, valid upgrade request (the slowloris never gets to its end).
UPGRADE_REQUEST = (
    b"GET / HTTP/1.1\r\n"
    b"Host: 127.0.0.1\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\n"
    b"\r\n"
)


def open_raw(server: RunningServer, count: int) -> list[socket.socket]:
    """``count`` plain TCP connections to the WebSocket port (nothing sent yet)."""
    return [socket.create_connection(("127.0.0.1", server.port), timeout=5) for _ in range(count)]


def closed_by_peer(sock: socket.socket, timeout: float) -> bool:
    """True if the server ends ``sock`` (EOF or reset) within ``timeout`` s; False if it stays open."""
    sock.settimeout(timeout)
    try:
        return sock.recv(4096) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


@contextmanager
def slowloris(sockets: list[socket.socket], interval_s: float = 0.05) -> Iterator[threading.Event]:
    """Send UPGRADE_REQUEST to every socket one byte at a time, a byte each ``interval_s``, in a thread.

    The thread stops when the block ends (or the request is all sent, which takes
    ``len(UPGRADE_REQUEST) * interval_s``, longer than any test's handshake timeout).
    Sockets the server has closed are skipped.
    """
    stop = threading.Event()

    def dribble() -> None:
        alive = list(sockets)
        for i in range(len(UPGRADE_REQUEST)):
            if stop.wait(interval_s) or not alive:
                return
            for sock in list(alive):
                try:
                    sock.send(UPGRADE_REQUEST[i : i + 1])
                except OSError:
                    alive.remove(sock)

    thread = threading.Thread(target=dribble, name="slowloris", daemon=True)
    thread.start()
    try:
        yield stop
    finally:
        stop.set()
        thread.join(5)


def worker_process(server: RunningServer) -> psutil.Process:
    """The one worker process of a ``--workers 1`` server."""
    children = psutil.Process(server.process.pid).children()
    assert len(children) == 1, children
    return children[0]


def rss_mib(process: psutil.Process) -> float:
    """Resident memory of ``process`` in MiB."""
    return process.memory_info().rss / (1024 * 1024)


def wait_until(predicate, timeout: float, interval: float = 0.02) -> bool:  # type: ignore[no-untyped-def]
    """Poll ``predicate()`` until it is true (True) or ``timeout`` s pass (False)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True
