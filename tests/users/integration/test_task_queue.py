"""users.integration.task_queue: Locust's task queue as a small list, in deque's order, installed with the rest."""

from __future__ import annotations

import random
import tracemalloc
from collections import deque
from collections.abc import Iterator

import pytest
from locust import User
from locust.env import Environment
from locust.user.task import DefaultTaskSet

from users import integration
from users.integration.task_queue import TaskQueue


class Idle(User):
    def noop(self) -> None:
        pass

    tasks = [noop]


@pytest.fixture
def installed() -> Iterator[None]:
    integration.install()
    yield
    integration.install()  # as the locustfile leaves it


def test_the_queue_keeps_deques_order_under_every_operation_taskset_uses() -> None:
    rng = random.Random(7)
    ours, theirs = TaskQueue(), deque()
    for i in range(2000):
        op = rng.choice(["append", "appendleft", "popleft", "popleft"])
        if op == "popleft":
            assert bool(ours) == bool(theirs)
            if theirs:
                assert ours.popleft() == theirs.popleft()
            else:
                with pytest.raises(IndexError):
                    ours.popleft()
        else:
            getattr(ours, op)(i)
            getattr(theirs, op)(i)
        assert list(ours) == list(theirs)


def per_taskset_bytes() -> float:
    user = Idle(Environment(user_classes=[Idle]))
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tasksets = [DefaultTaskSet(user) for _ in range(200)]
        return (tracemalloc.get_traced_memory()[0] - before) / len(tasksets)
    finally:
        tracemalloc.stop()


def test_installed_a_users_task_set_queues_in_order_in_a_fraction_of_a_deques_memory(installed: None) -> None:
    taskset = DefaultTaskSet(Idle(Environment(user_classes=[Idle])))
    taskset.schedule_task("second")
    taskset.schedule_task("first", first=True)
    assert isinstance(taskset._task_queue, TaskQueue)
    assert [taskset._task_queue.popleft(), taskset._task_queue.popleft()] == ["first", "second"]
    small = per_taskset_bytes()
    integration.uninstall()
    assert isinstance(DefaultTaskSet(Idle(Environment(user_classes=[Idle])))._task_queue, deque)
    assert per_taskset_bytes() - small > 500, small
