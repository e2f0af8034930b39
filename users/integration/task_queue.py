"""Locust's per-user task queue as a small list: an empty deque holds a 64-slot block (about 700 B per user)."""

from __future__ import annotations

import importlib
from typing import Any

locust_task = importlib.import_module("locust.user.task")  # the module (locust.user.task is the decorator)

ORIGINAL_INIT = locust_task.TaskSet.__init__


class TaskQueue(list[Any]):
    """The deque operations TaskSet uses (append, appendleft, popleft, truth): it holds a task or two at most."""

    __slots__ = ()

    def popleft(self) -> Any:
        """The first task (IndexError when empty, as deque's)."""
        return self.pop(0)

    def appendleft(self, item: Any) -> None:
        """`item` first (TaskSet.schedule_task(first=True))."""
        self.insert(0, item)


def small_queue_init(self: Any, parent: Any) -> None:
    """Locust's TaskSet.__init__, then its `_task_queue` as a TaskQueue."""
    ORIGINAL_INIT(self, parent)
    self._task_queue = TaskQueue()  # type: ignore[assignment]


def install_small_task_queue() -> None:
    """Every TaskSet (a User's DefaultTaskSet included) queues its tasks in a TaskQueue; idempotent."""
    locust_task.TaskSet.__init__ = small_queue_init  # type: ignore[method-assign]


def restore() -> None:
    """Locust's own deque."""
    locust_task.TaskSet.__init__ = ORIGINAL_INIT  # type: ignore[method-assign]
