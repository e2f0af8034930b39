"""Fixtures for the reference server suite: shared servers on loopback and token minting."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import websocket
from hypothesis.configuration import set_hypothesis_home_dir

from reference_server.launcher import RunningServer, start_reference_server
from tests.support.ws import connect, hello, mint_token

Mint = Callable[..., str]
_hypothesis_home: str | None = None


def pytest_configure(config: pytest.Config) -> None:
    """Hypothesis keeps its files (example database, caches) in a temp dir, not in the repository.

    The fuzz tests also run with ``database=None`` and ``derandomize=True`` (see fuzz_support).
    """
    global _hypothesis_home
    _hypothesis_home = tempfile.mkdtemp(prefix="hypothesis-")
    set_hypothesis_home_dir(_hypothesis_home)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _hypothesis_home is not None:
        shutil.rmtree(_hypothesis_home, ignore_errors=True)


@pytest.fixture(scope="session")
def server() -> Iterator[RunningServer]:
    """One default server shared by the tests that do not read exact counters."""
    with start_reference_server() as running:
        yield running


@pytest.fixture(scope="session")
def limits_server() -> Iterator[RunningServer]:
    """A server with short hello/tool timeouts, a rate limit and a 4 KiB message limit."""
    with start_reference_server(
        "--hello-timeout", "0.3", "--tool-timeout", "0.2", "--rate-limit", "20", "--max-message-bytes", "4096"
    ) as running:
        yield running


def minter(server: RunningServer) -> Mint:
    """mint(**claims) -> an HS256 token for ``server`` issued now (see tests.support.ws.mint_token)."""

    def mint(**claims: Any) -> str:
        return mint_token(server.jwt_secret, now=time.time(), **claims)

    return mint


@pytest.fixture
def mint(server: RunningServer) -> Mint:
    """Tokens for the shared default server."""
    return minter(server)


@pytest.fixture
def session(server: RunningServer, mint: Mint) -> Iterator[websocket.WebSocket]:
    """A connection to the default server that has said hello with scope tools:*."""
    ws = connect(server.url)
    assert hello(ws, mint())["op"] == "hello_ok"
    yield ws
    ws.close()


@pytest.fixture
def limits_session(limits_server: RunningServer) -> Iterator[websocket.WebSocket]:
    """A connection to the limits server that has said hello with scope tools:*."""
    ws = connect(limits_server.url)
    assert hello(ws, minter(limits_server)())["op"] == "hello_ok"
    yield ws
    ws.close()


@pytest.fixture(scope="session")
def fault_server() -> Iterator[RunningServer]:
    """A server whose faults the tests change (reset around each test by ``faulty``)."""
    with start_reference_server("--shutdown-grace", "0.5") as running:
        yield running


@pytest.fixture
def faulty(fault_server: RunningServer) -> Iterator[RunningServer]:
    """The fault server with every fault off and no connection open, before and after the test."""
    fault_server.control("/control/faults/reset")
    fault_server.control("/control/drop", {"fraction": 1, "mode": "reset"})
    fault_server.wait_stats(lambda s: s["connections_opened"] == s["connections_closed"])
    yield fault_server
    fault_server.control("/control/faults/reset")
