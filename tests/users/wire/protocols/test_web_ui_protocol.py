"""--protocol from the web UI's start form: the form offers it, and a run started with it speaks it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from reference_server.launcher import start_reference_server
from tests.support.locust_run import ROOT, free_port, terminate
from tests.test_locustfile_web_ui import WebUi, by_name


def test_the_start_form_runs_mcp_against_an_mcp_server(tmp_path: Path) -> None:
    with start_reference_server("--protocol", "mcp") as server:
        port = free_port()
        log_path = tmp_path / "locust.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "locust", "-f", "locustfile.py", "--web-host", "127.0.0.1",
                 "--web-port", str(port)],
                cwd=ROOT, env={**os.environ, "LOCUST_JWT_SECRET": server.jwt_secret or ""}, stdout=log, stderr=log,
            )  # fmt: skip
            ui = WebUi(f"http://127.0.0.1:{port}", process, log_path)
            try:
                deadline = time.monotonic() + 30
                while True:
                    try:
                        page = ui.get("/").decode()
                        break
                    except OSError:
                        assert process.poll() is None and time.monotonic() < deadline, log_path.read_text()
                        time.sleep(0.2)
                for option in ("protocol", "compression", "mcp_protocol_version", "rpc_hello"):
                    assert option in page, option
                form = {"user_count": "2", "spawn_rate": "2", "host": server.url, "protocol": "mcp", "in_flight": "4"}
                assert ui.post("/swarm", form)["success"]
                running = ui.wait(lambda s: by_name(s).get("call_tool:echo", {}).get("num_requests", 0) > 50)
                assert by_name(running)["hello"]["num_requests"] == 2 and by_name(running)["hello"]["num_failures"] == 0
                ui.post("/stop", {})
                stopped = ui.wait(lambda s: s["state"] == "stopped")
                final = server.wait_stats(lambda s: s["connections_closed"] == 2)
            finally:
                terminate(process)
    echo = by_name(stopped)["call_tool:echo"]
    assert echo["num_failures"] == 0 and final["calls_received"] == final["results_ok"] == echo["num_requests"]
    assert final["hello_ok"] == 2  # the server counted two accepted initialize handshakes
