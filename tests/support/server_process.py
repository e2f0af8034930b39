"""Start a test server module that prints `port N` first, on a free loopback port, and stop it afterwards."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def port_printing_server(
    module: str, args: tuple[str, ...] = (), *, env: Mapping[str, str] | None = None, timeout_s: float = 10.0
) -> Iterator[tuple[int, Path]]:
    """`python -m MODULE ARGS` started in the repository: its port and the file its stdout goes to, until the
    block ends (terminated, then killed after 5 s)."""
    log = Path(tempfile.mkdtemp(prefix=module.rsplit(".", 1)[-1] + "-")) / "stdout"
    with log.open("w") as out:
        command = [sys.executable, "-m", module, *args]
        process = subprocess.Popen(command, stdout=out, cwd=ROOT, env={**os.environ, **(env or {})})
    try:
        deadline = time.monotonic() + timeout_s
        while not log.read_text().startswith("port "):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{module} did not start: {log.read_text()!r}")
            time.sleep(0.02)
        yield int(log.read_text().split()[1]), log
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate `process`; kill it if it has not ended within 5 s."""
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
