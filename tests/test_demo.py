"""`make demo`'s script end to end: a real run, a summary, a report, and no secret or token in any output."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
JWT_PREFIX = b"eyJhbGciOi"  # base64url of '{"alg":' - how every JWT this tool mints or sends begins


def test_demo_runs_reports_and_leaks_no_secret(tmp_path: Path) -> None:
    secret = "demo-secret-under-test-7f3a9c51e2b84d06"
    # The demo makes a random secret per run; fix it here so the outputs can be searched for it.
    script = textwrap.dedent(
        f"""
        import runpy, secrets, sys
        secrets.token_urlsafe = lambda nbytes=None: {secret!r}
        sys.argv = ["demo.py", "--duration", "4s", "--users", "3", "--in-flight", "2", "--results", {str(tmp_path)!r}]
        runpy.run_path("demo.py", run_name="__main__")
        """
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, timeout=240, check=False)
    output = done.stdout + done.stderr
    text = output.decode(errors="replace")
    assert done.returncode == 0, text[-3000:]
    for expected in ("calls/s", "msg/s", "call_tool:echo", "ledger", "agrees with the client", "verdict"):
        assert expected in text, expected
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert {"run_stats.csv", "run_ws.csv", "locust_report.html", "report.html", "summary.json"} <= names, names
    for blob, where in [(output, "demo output"), *((p.read_bytes(), str(p)) for p in files)]:
        assert secret.encode() not in blob, f"the JWT secret leaked into {where}"
        assert JWT_PREFIX not in blob, f"a JWT leaked into {where}"


def test_bad_demo_arguments_are_one_error_line_and_leave_no_folder(tmp_path: Path) -> None:
    for args, message in [
        (["--tools", "echo:9,sleep:1={ms:5}"], "error: --tools: arguments of 'sleep' are not valid JSON"),
        (["--duration", "5x"], "error: --duration must look like 20s"),
        (["--in-flight", "0"], "error: --users and --in-flight must be at least 1"),
    ]:
        command = [sys.executable, "demo.py", *args, "--results", str(tmp_path / "results")]
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith(message) and done.stderr.count("\n") == 1, done.stderr
        assert not (tmp_path / "results").exists()
