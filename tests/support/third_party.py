"""Start tests/support/wsproto_server.py (a server built on wsproto, not on our code) and read its own counts."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.locust_run import ROOT

START_TIMEOUT_S = 15.0


@dataclass
class ThirdPartyServer:
    """A running wsproto server; `counts` is filled once it has stopped."""

    url: str
    counts_file: Path
    counts: dict[str, Any] = field(default_factory=dict)


@contextmanager
def wsproto_server(tmp_path: Path, *args: str) -> Iterator[ThirdPartyServer]:
    """Run the server until the block ends (SIGTERM, bounded wait), then load its counts."""
    counts_file = tmp_path / "server_counts.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.wsproto_server", "--counts", str(counts_file), *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # the server prints one line once listening (or exits)
        if not line.startswith("listening on "):
            raise RuntimeError(f"wsproto server did not start: {line!r} {process.stderr.read()[-2000:]}")
        server = ThirdPartyServer(line.split()[2], counts_file)
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=START_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    server.counts = json.loads(counts_file.read_text())
