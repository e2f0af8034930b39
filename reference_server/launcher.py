"""Start ``python -m reference_server`` as a subprocess (demo, benchmarks, tests), wait for its ready line, clean up.

Works with and without gevent monkey patching (only subprocess, files, time and
urllib are used). API, kept stable for other test suites::

    with start_reference_server("--workers", "2") as server:
        server.url            # "ws://127.0.0.1:PORT/" (wss:// with --tls-cert/--tls-key)
        server.stats_url      # "http://127.0.0.1:MPORT/stats"
        server.jwt_secret     # HS256 secret the server was given (random by default; None with --jwt-public-key)
        server.stats()        # GET /stats -> dict
        server.wait_stats(lambda s: s["connections_closed"] == 3)   # poll until true (bounded)
        server.control("/control/drop", {"fraction": 0.5})          # POST, 200 expected -> dict
        server.request("GET", "/control/faults")                    # -> (status, JSON body)
        server.stop()         # SIGTERM, wait; returns the exit code (kills after the timeout)
        server.stdout_text(), server.stderr_text()

The secret reaches the server through REFERENCE_SERVER_JWT_SECRET, never argv.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
SECRET_ENV = "REFERENCE_SERVER_JWT_SECRET"
READY_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 15.0
READY_LINE = re.compile(r"^listening on (?P<url>wss?://\S+) stats (?P<stats_url>http://\S+)$")


class ServerStartError(RuntimeError):
    """The server exited or stayed silent instead of printing its ready line."""


@dataclass
class RunningServer:
    """A started reference server subprocess."""

    process: subprocess.Popen[bytes]
    url: str
    stats_url: str
    jwt_secret: str | None
    stdout_path: Path
    stderr_path: Path
    returncode: int | None = field(default=None)

    @property
    def port(self) -> int:
        """The WebSocket port."""
        return int(self.url.rsplit(":", 1)[1].strip("/"))

    @property
    def metrics_port(self) -> int:
        """The /stats port."""
        return int(self.stats_url.rsplit(":", 1)[1].split("/", 1)[0])

    @property
    def base_url(self) -> str:
        """``http://HOST:MPORT`` (the /stats and /control server)."""
        return self.stats_url.rsplit("/", 1)[0]

    def request(self, method: str, path: str, body: Any = None, timeout: float = 5.0) -> tuple[int, Any]:
        """One HTTP request to the metrics port -> (status, parsed JSON body).

        ``body`` is sent as JSON unless it is already bytes.
        """
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, json.loads(exc.read() or b"null")

    def control(self, path: str, body: Any = None, timeout: float = 5.0) -> Any:
        """POST ``body`` (default ``{}``) to a /control route; AssertionError unless 200; the JSON answer."""
        status, answer = self.request("POST", path, {} if body is None else body, timeout)
        if status != 200:
            raise AssertionError(f"POST {path} answered {status}: {answer}")
        return answer

    def stats(self, timeout: float = 5.0) -> dict[str, Any]:
        """GET /stats: the counters summed over every worker."""
        return self._get_json(self.stats_url, timeout)

    def worker_stats(self, timeout: float = 5.0) -> list[dict[str, Any]]:
        """GET /stats/workers: one counters object per worker."""
        return self._get_json(self.stats_url + "/workers", timeout)

    def wait_stats(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 5.0) -> dict[str, Any]:
        """Poll /stats until ``predicate(stats)`` holds; return those stats or raise AssertionError."""
        deadline = time.monotonic() + timeout
        while True:
            stats = self.stats()
            if predicate(stats):
                return stats
            if time.monotonic() > deadline:
                raise AssertionError(f"stats never matched within {timeout} s: {stats}")
            time.sleep(0.02)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT_S) -> int:
        """Send ``sig`` and wait for exit (SIGKILL after ``timeout``); return the exit code."""
        if self.process.poll() is None:
            try:
                self.process.send_signal(sig)
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5.0)
        self.returncode = self.process.returncode
        return self.returncode

    def stdout_text(self) -> str:
        """Everything the server wrote to stdout so far."""
        return self.stdout_path.read_text(errors="replace")

    def stderr_text(self) -> str:
        """Everything the server wrote to stderr so far."""
        return self.stderr_path.read_text(errors="replace")

    @staticmethod
    def _get_json(url: str, timeout: float) -> Any:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return json.loads(response.read())


def reference_server_command(*args: str) -> list[str]:
    """The argv that starts the server with this interpreter."""
    return [sys.executable, "-m", "reference_server", *args]


def server_env(jwt_secret: str | None, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a server subprocess: ours, minus any inherited secret, plus ``env``."""
    full = {k: v for k, v in os.environ.items() if k != SECRET_ENV}
    if jwt_secret is not None:
        full[SECRET_ENV] = jwt_secret
    full.update(env or {})
    return full


@contextmanager
def start_reference_server(
    *extra_args: str,
    jwt_secret: str | None = None,
    env: Mapping[str, str] | None = None,
    ready_timeout: float = READY_TIMEOUT_S,
) -> Iterator[RunningServer]:
    """Run ``python -m reference_server --port 0 --metrics-port 0 *extra_args`` until the block ends.

    ``jwt_secret=None`` picks a random HS256 secret, unless ``--jwt-public-key`` is in
    ``extra_args`` (then no secret is set). ``env`` adds environment variables. On
    exit the server gets SIGTERM (SIGKILL if it lingers); temp files are removed.
    """
    if jwt_secret is None and "--jwt-public-key" not in extra_args:
        jwt_secret = secrets.token_urlsafe(48)
    workdir = Path(tempfile.mkdtemp(prefix="reference-server-"))
    stdout_path, stderr_path = workdir / "stdout", workdir / "stderr"
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        process = subprocess.Popen(
            reference_server_command("--port", "0", "--metrics-port", "0", *extra_args),
            cwd=REPO_ROOT,
            env=server_env(jwt_secret, env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
        )
    try:
        url, stats_url = _wait_ready(process, stdout_path, stderr_path, ready_timeout)
        server = RunningServer(process, url, stats_url, jwt_secret, stdout_path, stderr_path)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5.0)
        shutil.rmtree(workdir, ignore_errors=True)


def run_reference_server_cli(
    *args: str, jwt_secret: str | None = None, env: Mapping[str, str] | None = None, timeout: float = 15.0
) -> subprocess.CompletedProcess[str]:
    """Run the server command expecting it to exit by itself (e.g. a bad option); capture output."""
    return subprocess.run(
        reference_server_command(*args),
        cwd=REPO_ROOT,
        env=server_env(jwt_secret, env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _wait_ready(
    process: subprocess.Popen[bytes], stdout_path: Path, stderr_path: Path, timeout: float
) -> tuple[str, str]:
    deadline = time.monotonic() + timeout
    while True:
        text = stdout_path.read_text(errors="replace")
        if text.endswith("\n"):
            match = READY_LINE.match(text.splitlines()[0])
            if match is None:
                raise ServerStartError(f"unexpected first line from the server: {text.splitlines()[0]!r}")
            return match["url"], match["stats_url"]
        if process.poll() is not None:
            raise ServerStartError(
                f"server exited with {process.returncode} before it was ready: "
                f"{stderr_path.read_text(errors='replace').strip()}"
            )
        if time.monotonic() > deadline:
            raise ServerStartError(f"server printed no ready line within {timeout} s")
        time.sleep(0.01)
