"""Importing the locustfile patches the standard library before websocket-client or ssl load."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_locustfile_import_leaves_sockets_cooperative() -> None:
    probe = textwrap.dedent(
        """
        import sys, warnings
        warnings.simplefilter("error")  # a MonkeyPatchWarning (ssl imported too early) fails the probe
        import locustfile
        import socket, ssl, gevent.monkey, websocket._socket as ws_socket
        assert gevent.monkey.is_module_patched("socket"), "socket not patched"
        assert gevent.monkey.is_module_patched("ssl"), "ssl not patched"
        assert ws_socket.socket.socket is socket.socket, "websocket-client holds an unpatched socket"
        print("patched-ok")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "patched-ok" in done.stdout
