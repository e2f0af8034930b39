"""users.load.per_environment: one object per environment, made once, gone with the environment."""

from __future__ import annotations

import gc

from locust.env import Environment

from users.load.per_environment import PerEnvironment


def test_each_environment_gets_its_own_object_made_once_and_it_goes_with_the_environment() -> None:
    made: list[object] = []
    per = PerEnvironment(lambda: made.append(object()) or made[-1])
    first, second = Environment(), Environment()
    assert per(first) is per(first) is made[0]
    assert per(second) is made[1] and len(made) == 2
    del first
    gc.collect()
    assert len(per._objects) == 1
