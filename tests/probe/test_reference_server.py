"""The probe against the real reference server, once per protocol: every case OK (exit 0), reports written."""

from __future__ import annotations

from pathlib import Path

import pytest

from probe.catalog import CASES
from reference_server.launcher import start_reference_server
from tests.probe.support import run_probe

NOT_APPLICABLE = {"jsonrpc": {"9.7"}}
"""Cases that do not apply to a protocol (INFORMATIONAL): plain JSON-RPC has no handshake to call before."""


@pytest.mark.parametrize("protocol", ["toolcall", "jsonrpc", "mcp"])
def test_the_reference_server_passes_every_case(protocol: str, tmp_path: Path) -> None:
    with start_reference_server("--protocol", protocol) as server:
        run = run_probe(server.url, "--protocol", protocol, "--out", str(tmp_path), secret=server.jwt_secret)
    assert run.code == 0, run.stdout + run.stderr
    assert set(run.behaviors) == {case.case_id for case in CASES}
    skipped = NOT_APPLICABLE.get(protocol, set())
    assert run.with_behavior("INFORMATIONAL") == skipped, run.stdout
    assert run.with_behavior("OK") == set(run.behaviors) - skipped, run.stdout
    assert run.stdout.splitlines()[-2].startswith(f"summary: {len(CASES)} cases against {server.url}")
    index = run.index(tmp_path)
    (agent,) = index
    assert {case: entry["behavior"] for case, entry in index[agent].items()} == run.behaviors
    assert index[agent]["6.4"]["remoteCloseCode"] == 1002 and index[agent]["6.4"]["behaviorClose"] == "OK"
    assert all((tmp_path / entry["reportfile"]).is_file() for entry in index[agent].values())
    written = "".join(p.read_text() for p in tmp_path.iterdir())
    assert server.jwt_secret and server.jwt_secret not in run.stdout + run.stderr + written


def test_a_server_with_a_smaller_limit_is_probed_at_its_limit(tmp_path: Path) -> None:
    with start_reference_server("--max-message-bytes", "4096") as server:
        at_default = run_probe(server.url, "--cases", "7", secret=server.jwt_secret)
        at_limit = run_probe(server.url, "--cases", "7", "--server-max-message-bytes", "4096", secret=server.jwt_secret)
        unknown = run_probe(server.url, "--cases", "7", "--server-max-message-bytes", "0", secret=server.jwt_secret)
    assert at_default.with_behavior("OK") == {"7.1", "7.2"}  # far over 4 KiB: closed 1009 as well
    assert at_limit.with_behavior("OK") == {"7.1", "7.2"} and at_limit.code == 0
    assert unknown.with_behavior("INFORMATIONAL") == {"7.1", "7.2"} and unknown.code == 0
    assert "skipped: the server's message size limit is unknown" in unknown.stdout
