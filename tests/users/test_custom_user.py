"""The custom-task example of docs/how-to/own-server.md works as a locustfile of its own."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from reference_server.launcher import start_reference_server
from tests.support.locust_run import ROOT

CUSTOM = textwrap.dedent(
    """
    from locust import task

    import locustfile  # noqa: F401  the project's patches, options and scenario shape
    from users.base import ToolCallUser
    from users.wire.protocol import CallTemplate


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
            [sys.executable, "-m", "locust", "-f", str(custom), "--headless", "-u", "2", "-r", "2", "-t", "5s",
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


def readme_example() -> str:
    """The Python block under "Writing your own tasks" (docs/how-to/own-server.md), as written."""
    text = (ROOT / "docs" / "how-to" / "own-server.md").read_text()
    section = text[text.index("## Writing your own tasks") :]
    start = section.index("```python\n") + len("```python\n")
    return section[start : section.index("\n```", start)]


def test_the_readme_example_runs_only_its_own_task_and_its_unknown_tool_ends_the_process(tmp_path: Path) -> None:
    """The example calls `search`, which the reference server does not have: only call_tool:search is sent (not
    ToolCallUser's echo task too), and the unknown-tool stop ends the process long before -t."""
    example = readme_example()
    assert "class SearchUser(ToolCallUser)" in example and 'CallTemplate("search"' in example
    custom = tmp_path / "my_locustfile.py"
    custom.write_text(example)
    with start_reference_server() as server:
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "locust", "-f", str(custom), "--headless", "-u", "2", "-r", "2", "-t", "60s",
             "-H", server.url, "--csv", str(tmp_path / "run"), "--only-summary", "SearchUser"],
            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), "LOCUST_JWT_SECRET": server.jwt_secret or ""},
            capture_output=True, text=True, timeout=90, check=False,
        )  # fmt: skip
        took = time.monotonic() - started
    output = done.stdout + done.stderr
    assert done.returncode == 2, output[-3000:]
    assert "error: the server has no tool search (calls fail unknown_tool): check --tools; stopping the run" in output
    assert took < 30, f"the process lingered {took:.0f} s (until -t)"
    names = [r.split(",")[1] for r in (tmp_path / "run_stats.csv").read_text().splitlines()[1:]]
    assert "call_tool:search" in names and "call_tool:echo" not in names, names


def test_a_subclass_without_tasks_keeps_the_inherited_one() -> None:
    from locust import task

    from users.base import ToolCallUser

    class Plain(ToolCallUser):
        in_flight = 2

    class Own(ToolCallUser):
        @task(3)
        def mine(self) -> None: ...

    assert Plain.tasks == ToolCallUser.tasks and len(ToolCallUser.tasks) == 1
    assert Own.tasks == [Own.mine] * 3
