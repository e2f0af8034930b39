"""Process supervision: a dead worker stops the server (exit 1); a dead supervisor stops its workers."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

from reference_server.launcher import RunningServer, start_reference_server


def worker_pids(server: RunningServer) -> list[int]:
    """Children of the supervisor process (Linux /proc)."""
    pid = server.process.pid
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(p) for p in text.split()]


def refuses_connections(port: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            return True
        time.sleep(0.02)
    return False


def test_worker_crash_shuts_the_server_down() -> None:
    with start_reference_server("--workers", "2") as server:
        pids = worker_pids(server)
        assert len(pids) == 2
        os.kill(pids[0], signal.SIGKILL)
        server.process.wait(15)
        assert server.process.returncode == 1
        assert "worker" in server.stderr_text() and "unexpectedly" in server.stderr_text()
        assert refuses_connections(server.port)


def test_workers_stop_when_the_supervisor_dies() -> None:
    with start_reference_server() as server:
        (pid,) = worker_pids(server)
        server.process.kill()
        server.process.wait(5)
        assert refuses_connections(server.port)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                state = Path(f"/proc/{pid}/status").read_text()
            except FileNotFoundError:
                break
            if "\nState:\tZ" in state:
                break
            time.sleep(0.02)
        else:
            raise AssertionError("worker still running after its supervisor died")
