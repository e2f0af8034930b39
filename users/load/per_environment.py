"""One object per Locust environment, made on first use and gone with the environment (weakly keyed)."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

from locust.env import Environment

T = TypeVar("T")


class PerEnvironment(Generic[T]):
    """Called with an environment: its object, made by `make` the first time."""

    def __init__(self, make: Callable[[], T]) -> None:
        self._make = make
        self._objects: weakref.WeakKeyDictionary[Environment, T] = weakref.WeakKeyDictionary()

    def __call__(self, environment: Environment) -> T:
        found = self._objects.get(environment)
        if found is None:
            found = self._objects[environment] = self._make()
        return found
