"""A real Prometheus (Debian's package) on a free loopback port scraping given targets each second, for tests."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.locust_run import free_port

PROMETHEUS = "/usr/bin/prometheus"
INSTALL = (
    "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus"
)


def prometheus_binary() -> str:
    """Debian's prometheus, installed with apt-get when absent; the test FAILS (never skips) with the reason."""
    found = shutil.which("prometheus") or (PROMETHEUS if os.path.exists(PROMETHEUS) else None)
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.fail("prometheus is not installed and cannot be (needs root and apt-get): run .ci/run as root")
    done = subprocess.run(["sh", "-c", INSTALL], capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0 or not os.path.exists(PROMETHEUS):
        pytest.fail(f"prometheus could not be installed: {(done.stdout + done.stderr)[-800:]}")
    return PROMETHEUS


@dataclass
class Prometheus:
    """A running Prometheus and its HTTP API."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def api(self, path: str, **params: str) -> Any:
        """GET /api/v1/PATH; the `data` of a successful answer."""
        query = urllib.parse.urlencode(params)
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}?{query}", timeout=10) as answer:
            body = json.loads(answer.read())
        assert body["status"] == "success", body
        return body["data"]

    def query(self, promql: str) -> list[dict[str, Any]]:
        """An instant query's result list."""
        return self.api("query", query=promql)["result"]

    def scalar(self, promql: str) -> float:
        """The single value of an instant query (AssertionError when it has none or several)."""
        result = self.query(promql)
        assert len(result) == 1, (promql, result)
        return float(result[0]["value"][1])

    def targets_up(self) -> dict[str, float]:
        """Per scraped instance, 1 when any scrape of it in the last 10 minutes succeeded, else 0."""
        return {r["metric"]["instance"]: float(r["value"][1]) for r in self.query("max_over_time(up[10m])")}

    def wait_scraped(self, promql: str, timeout_s: float = 30.0) -> None:
        """Wait until `promql` returns data."""
        deadline = time.monotonic() + timeout_s
        while not self.query(promql):
            assert time.monotonic() < deadline, f"Prometheus returned nothing for {promql}: {self.log()[-1500:]}"
            time.sleep(0.5)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextmanager
def running_prometheus(tmp_path: Path, targets: Sequence[str], timeout_s: float = 30.0) -> Iterator[Prometheus]:
    """Prometheus scraping `targets` (host:port) every second, started on a free loopback port, stopped after."""
    binary = prometheus_binary()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
        "scrape_configs:\n  - job_name: wsload\n    static_configs:\n"
        f"      - targets: [{', '.join(repr(t) for t in targets)}]\n"
    )
    port = free_port()
    log_path = tmp_path / "prometheus.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=1h"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path,
        )  # fmt: skip
    server = Prometheus(f"http://127.0.0.1:{port}", process, log_path)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with urllib.request.urlopen(f"{server.url}/-/ready", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            assert process.poll() is None, f"prometheus exited: {server.log()[-1500:]}"
            assert time.monotonic() < deadline, f"prometheus not ready: {server.log()[-1500:]}"
            time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def scraped_sums(server: Prometheus, metric: str, window: str = "10m") -> dict[float, float]:
    """Scrape time -> the sum over `metric`'s series of the values scraped then (raw samples, no interpolation)."""
    sums: dict[float, float] = {}
    for series in server.query(f"{metric}[{window}]"):
        for at, value in series["values"]:
            sums[float(at)] = sums.get(float(at), 0.0) + float(value)
    return sums


def last_scraped(server: Prometheus, metric: str, window: str = "10m") -> dict[str, float]:
    """Each series of `metric` (its labels as `k=v,...`) -> its last scraped value."""
    found = {}
    for series in server.query(f"{metric}[{window}]"):
        labels = ",".join(
            f"{k}={v}" for k, v in sorted(series["metric"].items()) if k not in ("__name__", "job", "instance")
        )
        found[labels] = float(series["values"][-1][1])
    return found
