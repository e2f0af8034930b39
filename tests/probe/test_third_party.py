"""The probe against a server that is not ours (wsproto, tests/support/wsproto_server.py): permessage-deflate
accepted and a compressed call answered (case 8.1's other branch), and the framing cases wsproto enforces OK."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.probe.support import run_probe
from tests.support.third_party import wsproto_server


@pytest.mark.parametrize("deflate", [True, False])
def test_deflate_accepted_or_declined_by_wsproto(tmp_path: Path, deflate: bool) -> None:
    with wsproto_server(tmp_path, "--protocol", "jsonrpc", *(["--deflate"] if deflate else [])) as server:
        run = run_probe(
            server.url, "--protocol", "jsonrpc", "--cases", "2,3,4,5,6,8", env={"LOCUST_TOKEN": "probe.test.token"}
        )
    assert run.code == 0, run.stdout
    assert run.with_behavior("OK") == set(run.behaviors), run.stdout
    said = "accepted (permessage-deflate" if deflate else "declined"
    assert any(line.startswith("OK") and " 8.1 " in line and said in line for line in run.stdout.splitlines())
