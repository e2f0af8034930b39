"""The custom-task example of docs/how-to/own-server.md works as a locustfile of its own."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from reference_server.launcher import start_reference_server
from tests.support.locust_run import ROOT

CUSTOM = textwrap.dedent(
    """
    from locust import task

    import locustfile  # noqa: F401  the project's patches, options and scenario shape
    from users.base import ToolCallUser
    from users.protocol import CallTemplate


    class SearchUser(ToolCallUser):
        search = CallTemplate("echo", {"q": "locust"})

        @task
        def call_tools(self):
            client = self.connected_client()
            if client is None:
                return
            outcome = client.call(self.search)
            if not (outcome.ok and outcome.result == {"q": "locust"}):
                raise AssertionError(f"unexpected outcome {outcome}")
    """
)


def test_subclass_with_its_own_task(tmp_path: Path) -> None:
    custom = tmp_path / "my_locustfile.py"
    custom.write_text(CUSTOM)
    with start_reference_server() as server:
        done = subprocess.run(
            [sys.executable, "-m", "locust", "-f", str(custom), "--headless", "-u", "2", "-r", "2", "-t", "2s",
             "-H", server.url, "--csv", str(tmp_path / "run"), "--only-summary", "SearchUser"],
            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), "LOCUST_JWT_SECRET": server.jwt_secret or ""},
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        stats = server.stats()
    assert done.returncode == 0, done.stderr[-3000:]
    rows = (tmp_path / "run_stats.csv").read_text().splitlines()
    echo = next(r for r in rows if r.startswith("WS,call_tool:echo,")).split(",")
    assert int(echo[2]) > 50 and echo[3] == "0"
    assert stats["calls_received"] == int(echo[2]) and stats["hello_ok"] == 2
