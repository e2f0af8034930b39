"""users.engine.connection against the reference server: reads settled in the hub report through Locust's own
stats while its listener is alone, through a greenlet (in order) while another listens, and a closed loop
driven by its reads keeps its count exact either way."""

from __future__ import annotations

import math
from collections.abc import Iterator
from time import perf_counter
from typing import Any

import pytest
from locust.env import Environment

from reference_server.launcher import start_reference_server
from tests.support.client_helpers import assert_identity, token
from users.engine.client import ClientSettings, ToolClient
from users.engine.hub import Progress
from users.integration.stats_path import request_fire
from users.wire.metrics import WsCounters
from users.wire.protocol import CallTemplate


@pytest.fixture(scope="module")
def server() -> Iterator[Any]:
    with start_reference_server() as running:
        yield running


def locust_client(server: Any, env: Environment) -> ToolClient:
    client = ToolClient(server.url, fire=request_fire(env), counters=WsCounters(), settings=ClientSettings())
    client.connect()
    client.hello("io-test", token(server.jwt_secret))
    return client


class CountingProgress(Progress):
    """Counts the waits of the connection's user."""

    __slots__ = ("waits",)

    def __init__(self) -> None:
        super().__init__()
        self.waits = 0

    def wait(self, deadline: float = math.inf, exact: bool = False) -> None:
        self.waits += 1
        super().wait(deadline, exact)


def run_closed_loop(client: ToolClient, seconds: float) -> int:
    """`seconds` of closed loop, 4 in flight, in 0.05 s slices as a user runs it; how often its user waited."""
    progress = client._io.progress = CountingProgress()  # type: ignore[union-attr]
    echo = [CallTemplate("echo", {})]
    end = perf_counter() + seconds
    while perf_counter() < end:
        client.keep_calling(4, lambda n: echo * n, min(end, perf_counter() + 0.05))
    waits = progress.waits
    client.drain()
    client.close()
    return waits


def test_a_driven_closed_loop_reports_every_call_through_locusts_stats_from_the_hub(server: Any) -> None:
    env = Environment()
    env.create_local_runner()
    client = locust_client(server, env)
    waits = run_closed_loop(client, 0.3)
    assert_identity(client)
    ok = client.counters.calls.ok
    assert ok > 20 * waits  # the reads send the next calls: the user wakes about once per slice, not per call
    assert env.stats.entries[("call_tool:echo", "WS")].num_requests == ok


def test_with_another_listener_every_call_still_reaches_both_in_order(server: Any) -> None:
    env = Environment()
    env.create_local_runner()
    seen: list[str] = []
    env.events.request.add_listener(lambda **event: seen.append(event["name"]))
    client = locust_client(server, env)
    run_closed_loop(client, 0.3)
    assert_identity(client)
    ok = client.counters.calls.ok
    assert seen[:2] == ["connect", "hello"] and seen.count("call_tool:echo") == ok
    assert env.stats.entries[("call_tool:echo", "WS")].num_requests == ok


def test_a_call_is_counted_before_it_is_reported_and_the_ledger_matches_the_core_whenever_a_listener_runs(
    server: Any,
) -> None:
    """Another listener defers reporting to a greenlet; what a read settled is counted where it was taken, so a
    listener (a greenlet, as any sampler) sees in_flight equal to the calls the core holds, and its own call
    already among the settled."""
    env = Environment()
    env.create_local_runner()
    counters = WsCounters()
    seen: list[tuple[int, int, int]] = []
    holder: list[ToolClient] = []

    def listener(**event: Any) -> None:
        if event["name"] == "call_tool:echo":
            core = holder[0].core
            assert core is not None
            ledger = counters.calls
            seen.append((ledger.ok + ledger.failed + ledger.timeout + ledger.lost, ledger.in_flight, len(core.pending)))

    env.events.request.add_listener(listener)
    client = ToolClient(server.url, fire=request_fire(env), counters=counters, settings=ClientSettings())
    holder.append(client)
    client.connect()
    client.hello("io-test", token(server.jwt_secret))
    run_closed_loop(client, 0.3)
    assert_identity(client)
    assert len(seen) == counters.calls.ok > 20
    assert all(settled >= i + 1 for i, (settled, _, _) in enumerate(seen))  # counted no later than reported
    assert all(in_flight == pending >= 0 for _, in_flight, pending in seen)
