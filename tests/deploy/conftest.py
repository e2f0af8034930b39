"""Fixtures of the deployment tests: a reference server on a free loopback port, stopped afterwards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from reference_server.launcher import RunningServer, start_reference_server


@pytest.fixture
def server() -> Iterator[RunningServer]:
    with start_reference_server() as running:
        yield running
