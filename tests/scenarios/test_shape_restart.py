"""ScenarioShape follows Locust's restart of shape time: an in-process Locust master and worker on loopback.

A master restarts shape time from its shape greenlet when the first users start (MasterRunner.start): the plan
goes on, re-sent with the new start. A start from the web UI (start_shape) after a stop is a fresh start: the plan
is built again from the options as they are then.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterator
from typing import Any

import gevent
import pytest
from locust import User, constant, events, task
from locust.argument_parser import parse_options
from locust.env import Environment
from locust.runners import STATE_STOPPED, MasterRunner

from scenarios.options import add_scenario_arguments
from scenarios.profile import PLAN_MESSAGE, Plan
from scenarios.shape import ScenarioShape
from tests.support.locust_run import free_port


class Idle(User):
    wait_time = constant(1)

    @task
    def rest(self) -> None:
        """Nothing: the test watches the shape, not the users."""


def parsed(*argv: str) -> argparse.Namespace:
    events.init_command_line_parser.add_listener(add_scenario_arguments)
    try:
        return parse_options(["-f", "locustfile.py", *argv])
    finally:
        events.init_command_line_parser.remove_listener(add_scenario_arguments)


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        gevent.sleep(0.05)


class Cluster:
    """A master with a ScenarioShape and one worker, in this process; the plans the shape broadcasts."""

    def __init__(self, options: argparse.Namespace) -> None:
        self.shape = ScenarioShape()
        self.sent: list[tuple[dict[str, Any], Plan | None]] = []
        self.shape.on_plan = lambda data: self.sent.append((data, self.shape.plan))
        self.received: list[dict[str, Any]] = []
        port = free_port()
        master_env = Environment(user_classes=[Idle], shape_class=self.shape, parsed_options=options)
        self.master: MasterRunner = master_env.create_master_runner("127.0.0.1", port)
        worker_env = Environment(user_classes=[Idle])
        self.worker = worker_env.create_worker_runner("127.0.0.1", port)
        self.worker.register_message(PLAN_MESSAGE, lambda environment, msg, **kw: self.received.append(msg.data))
        wait_for(lambda: self.master.worker_count == 1, "the worker")

    def quit(self) -> None:
        self.master.quit()
        self.worker.quit()


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    running = Cluster(parsed("--scenario", "sustained", "--stage-duration", "60s", "-u", "2", "-r", "2"))
    try:
        yield running
    finally:
        running.quit()


def test_the_plan_goes_on_through_the_masters_restart_and_is_rebuilt_on_a_new_start(cluster: Cluster) -> None:
    cluster.master.start_shape()  # the web UI's start
    wait_for(lambda: len(cluster.sent) >= 2 and cluster.master.user_count == 2, "the first users")
    gevent.sleep(1.5)  # a tick or two more: nothing more is sent
    (first, plan), (restart, same_plan) = cluster.sent
    assert plan is not None and same_plan is plan  # the restart kept the plan, not built it again
    assert [s.kind for s in plan.stages] == ["sustained"]
    assert restart["plan"] == first["plan"] and first["t0"] <= restart["t0"] <= time.time()
    wait_for(lambda: len(cluster.received) == 2, "the worker's plans")
    assert cluster.received[1]["t0"] == restart["t0"]

    cluster.master.stop()
    wait_for(lambda: cluster.master.state == STATE_STOPPED, "the stop")
    cluster.master.environment.parsed_options.scenario = "burst"  # as the web UI form changes it
    cluster.master.start_shape()
    wait_for(lambda: len(cluster.sent) >= 4, "the second start")
    (_, new_plan), (_, kept) = cluster.sent[2:4]
    assert new_plan is not None and new_plan is not plan and kept is new_plan
    assert [s.kind for s in new_plan.stages] == ["burst"]
    assert cluster.shape.started and not cluster.shape.verdicts
