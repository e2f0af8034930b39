"""Autobahn|Testsuite's fuzzingserver against the load users' client (users/wire/frames.py + users/wire/core.py, with the
echo harness of tests/support/autobahn_echo.py), websocket-client beside it as the yardstick.

The Python 2.7 venv comes from .ci/autobahn-venv (upstream's pins; skipped, saying so, without Python 2.7). Cases
1-7, 9 (messages up to 1 MiB), 10, 12 and 13 (the two smallest sizes of each permessage-deflate set): every case
OK or INFORMATIONAL, NON-STRICT only where websocket-client is NON-STRICT too, except EXPECTED_FAIL (each with
its reason); an expected failure that passes makes the test fail too (the list is empty today).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.autobahn.verdicts import problems
from tests.support.locust_run import ROOT, free_port
from tests.support.server_process import stop

pytestmark = pytest.mark.timeout(3600)  # above the venv's and the harness's own bounds, so those fail first
VENV_TIMEOUT_S = 1200.0
HARNESS_TIMEOUT_S = 900.0
CASES = [
    *(f"{n}.*" for n in range(1, 8)),
    "9.1.1", "9.1.2", "9.1.3", "9.2.1", "9.2.2", "9.2.3", "9.7.*", "9.8.*",
    "10.*",
    *(f"12.{i}.{s}" for i in range(1, 6) for s in (1, 2)),
    *(f"13.{i}.{s}" for i in range(1, 8) for s in (1, 2)),
]  # fmt: skip
TIMING: tuple[str, ...] = ()
"""Cases that may pass or not with the timing of the server's frames (none since frames decoded before a bad one
are delivered: users/wire/frames.py FrameError.frames)."""
EXPECTED_FAIL: dict[str, str] = {}
"""The core's conformance bugs (none left: the reserved opcodes and RFC 6455 7.4's close rules are checked)."""


@pytest.fixture(scope="module")
def wstest() -> Path:
    """wstest from the Python 2.7 venv .ci/autobahn-venv makes (or skip: no Python 2.7 here)."""
    done = subprocess.run([str(ROOT / ".ci" / "autobahn-venv")], capture_output=True, text=True,
                          timeout=VENV_TIMEOUT_S)  # fmt: skip
    if done.returncode == 3:
        pytest.skip(done.stdout.strip())
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    return Path(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def fuzzingserver(wstest: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A fuzzingserver on a free loopback port serving CASES: (its URL, the folder its reports go to)."""
    folder = tmp_path_factory.mktemp("autobahn")
    port = free_port()
    spec = {"url": f"ws://127.0.0.1:{port}", "outdir": str(folder / "clients"), "cases": CASES,
            "exclude-cases": [], "exclude-agent-cases": {}}  # fmt: skip
    (folder / "spec.json").write_text(json.dumps(spec))
    with (folder / "server.log").open("wb") as log:
        server = subprocess.Popen([str(wstest), "-m", "fuzzingserver", "-s", "spec.json"], cwd=folder, stdout=log,
                                  stderr=subprocess.STDOUT)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, (folder / "server.log").read_text()[-3000:]
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the fuzzingserver did not listen within 60 s"
                time.sleep(0.2)
        yield spec["url"], folder / "clients"
    finally:
        stop(server)


def run_agent(url: str, impl: str, agent: str) -> None:
    done = subprocess.run([sys.executable, "-m", "tests.support.autobahn_echo", "--impl", impl, "--url", url,
                           "--agent", agent], cwd=ROOT, capture_output=True, text=True,
                          timeout=HARNESS_TIMEOUT_S)  # fmt: skip
    assert done.returncode == 0 and "ran " in done.stdout, done.stdout + done.stderr[-3000:]


def test_the_client_core_passes_autobahn(fuzzingserver: tuple[str, Path]) -> None:
    url, reports = fuzzingserver
    run_agent(url, "wsclient", "websocket-client")
    run_agent(url, "core", "locust-ws-core")
    index = json.loads((reports / "index.json").read_text())
    ours, yardstick = index["locust-ws-core"], index["websocket-client"]
    assert len(ours) > 280 and set(ours) == set(yardstick)
    assert set(EXPECTED_FAIL) <= set(ours)
    deflate_not_ok = {case: ours[case]["behavior"] for case in ours if case.startswith(("12.", "13."))
                      if ours[case]["behavior"] != "OK"}  # fmt: skip
    assert not deflate_not_ok, deflate_not_ok
    found = problems(ours, yardstick, EXPECTED_FAIL, may_pass=TIMING)
    assert not found, "\n".join(found)
