"""The own-protocol example of docs/how-to/protocols.md, run as printed: it plugs into the core and the option checks."""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.locust_run import ROOT
from tests.support.misbehaving_server import server_frame, take_client_frame
from users.load.options import DEFAULTS, check_options
from users.wire.core import ClientCore, State
from users.wire.correlation import PendingCall
from users.wire.events import ProtocolFault, PushReceived
from users.wire.protocols import PROTOCOLS
from users.wire.settings import ClientSettings


@pytest.fixture
def example() -> Iterator[dict[str, Any]]:
    """The namespace the page's example leaves behind (its registration undone afterwards)."""
    readme = (ROOT / "docs" / "how-to" / "protocols.md").read_text()
    block = re.search(r"<!-- protocol-example -->\n```python\n(.*?)```\n<!-- /protocol-example -->", readme, re.S)
    assert block is not None, "docs/how-to/protocols.md lost its protocol example"
    namespace: dict[str, Any] = {}
    exec(compile(block.group(1), "docs/how-to/protocols.md", "exec"), namespace)  # noqa: S102 - our own docs
    try:
        yield namespace
    finally:
        PROTOCOLS.pop("acme", None)


def test_the_example_registers_and_passes_the_option_checks(example: dict[str, Any]) -> None:
    assert PROTOCOLS["acme"] is example["Acme"]
    credentials = {"jwt_secret": None, "token": None, "jwt_private_key": "", "jwt_ttl": 1.0}
    check_options(
        argparse.Namespace(**{**DEFAULTS, **credentials, "protocol": "acme", "ca_file": "", "insecure": False})
    )


def test_the_example_speaks_through_the_core(example: dict[str, Any]) -> None:
    acme = example["Acme"]()
    core = ClientCore(ClientSettings(protocol=acme), now=10.0)
    assert core.state is State.OPEN  # no handshake: open from the start
    assert acme.upgrade_headers("tok") == ["Authorization: Bearer tok"]
    core.send_calls([acme.template("search", {"q": "x"}), acme.template("search", {"q": "y"})], 10.0)
    buf = bytearray(core.data_to_send())
    sent = [json.loads(take_client_frame(buf)[1]) for _ in range(2)]  # type: ignore[index]
    assert sent == [{"type": "call", "id": 1, "tool": "search", "args": {"q": "x"}},
                    {"type": "call", "id": 2, "tool": "search", "args": {"q": "y"}}]  # fmt: skip
    answers = [{"type": "error", "id": 2, "reason": "quota"}, {"type": "event", "name": "tick"},
               {"type": "result", "id": 1, "value": [1]}, {"type": "bogus"}]  # fmt: skip
    core.receive_data(b"".join(server_frame(json.dumps(a).encode()) for a in answers) + server_frame(b"{"), 10.5)
    events = core.events_received()
    calls = [e for e in events if isinstance(e, PendingCall)]
    assert [(c.request_id, repr(c.failure) if c.failure else None) for c in calls] == [("2", "acme_quota"), ("1", None)]
    assert [e.event.topic for e in events if isinstance(e, PushReceived)] == ["tick"]
    assert [e.code for e in events if isinstance(e, ProtocolFault)] == ["unknown_type", "bad_json"]
