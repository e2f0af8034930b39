"""The watchdog on a real starved hub: a read that never yields is named and its connection shut down."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.support.locust_run import ROOT

PROBE = textwrap.dedent(
    """
    from gevent import monkey; monkey.patch_all()
    import socket, time, gevent
    from users.engine.watchdog import start_watchdog, reading
    start_watchdog()
    gevent.sleep(0.3)  # the hub beats
    ours, theirs = socket.socketpair()
    with reading("ws://hostile.test:9", ours):
        end = time.monotonic() + 2.5
        while time.monotonic() < end:  # a read loop that never yields to the hub
            pass
    ours.setblocking(False)
    print("after-shutdown", ours.recv(10) == b"", flush=True)
    gevent.sleep(0.6)  # the hub beats again: no second report
    with reading("ws://quiet.test:9", ours):
        gevent.sleep(1.6)  # waiting in the hub is not starving it
    print("done", flush=True)
    """
)


def test_a_starved_hub_is_reported_with_the_connection_being_read() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if "watchdog" in line]
    assert len(lines) == 2, done.stderr  # once starved, once the holder shut down; not again after
    assert "the gevent hub has not run for" in lines[0], lines
    assert "a read of ws://hostile.test:9 has held the gevent hub for" in lines[1], lines
    assert "after-shutdown True" in done.stdout  # the socket was shut down: the stuck read would now end
    assert "done" in done.stdout
