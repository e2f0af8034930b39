"""The request shortcut of users.integration.stats_path against Locust's request event: the same stats, and every other listener sees everything."""

from __future__ import annotations

import random
from typing import Any

from locust.env import Environment
from locust.stats import RequestStats

from tests.support.stats_state import Clock, entry_state
from users.engine.reporter import EventReporter
from users.integration.stats_path import locust_stats_listener, request_fire
from users.wire.correlation import PendingCall
from users.wire.errors import CallFailed, CallTimeout


def environment() -> Environment:
    env = Environment()
    env.create_local_runner()
    return env


def requests(n: int) -> list[dict[str, Any]]:
    rng = random.Random(3)
    out = []
    for _ in range(n):
        exception = rng.choice([None, None, None, CallFailed("tool_error"), CallTimeout()])
        out.append({
            "request_type": "WS", "name": rng.choice(["call_tool:echo", "connect", "hello"]),
            "response_time": rng.choice([None, rng.uniform(0, 50)]), "response_length": rng.randrange(100),
            "exception": exception, "context": {},
        })  # fmt: skip
    return out


def stats_state(env: Environment) -> dict[str, Any]:
    stats = env.stats
    entries = {f"{k}": entry_state(v) for k, v in stats.entries.items()}
    errors = {k: (e.method, e.name, repr(e.error), e.occurrences) for k, e in stats.errors.items()}
    return {"total": entry_state(stats.total), "entries": entries, "errors": errors}


def replay(clock: Clock, fire: Any, n: int = 2000) -> None:
    rng = random.Random(5)
    for request in requests(n):
        clock.now += rng.choice([0.0, 0.0, 0.4])
        fire(**request)


def test_the_shortcut_leaves_the_stats_the_event_leaves(clock: Clock) -> None:
    start = clock.now
    fast, slow = environment(), environment()
    fire = request_fire(fast)
    assert fire is not fast.events.request.fire  # the shortcut is in use
    replay(clock, fire)
    clock.now = start
    replay(clock, slow.events.request.fire)
    assert stats_state(fast) == stats_state(slow)
    assert fast.stats.total.num_requests == 2000


def test_another_listener_sees_every_request_and_the_stats_still_count(clock: Clock) -> None:
    env = environment()
    fire = request_fire(env)
    seen: list[dict[str, Any]] = []

    def listener(**kwargs: Any) -> None:
        seen.append(kwargs)

    replay(clock, fire, 100)
    env.events.request.add_listener(listener)  # added after the shortcut was made
    replay(clock, fire, 300)
    env.events.request.remove_listener(listener)
    replay(clock, fire, 50)
    assert len(seen) == 300
    assert [s["name"] for s in seen] == [r["name"] for r in requests(300)]
    assert all(set(s) >= {"request_type", "name", "response_time", "response_length", "exception"} for s in seen)
    assert env.stats.total.num_requests == 450


def test_without_locusts_listener_the_event_itself_is_used() -> None:
    env = Environment()  # no runner: nobody listens
    assert locust_stats_listener(env) is None
    assert request_fire(env) == env.events.request.fire
    env.create_local_runner()
    assert locust_stats_listener(env) is not None


def settled_calls(n: int) -> list[PendingCall]:
    rng = random.Random(7)
    calls = []
    for i in range(n):
        call = PendingCall(str(i), rng.choice(["echo", "sleep"]), 1.0, None)
        call.settled_at, call.length, call.result = 1.0 + rng.uniform(0, 0.05), rng.randrange(100), None
        call.failure = rng.choice([None, None, None, CallFailed("tool_error"), CallTimeout()])
        calls.append(call)
    return calls


def test_the_reporters_direct_logging_leaves_the_stats_the_event_leaves_and_listeners_still_see_all(
    clock: Clock,
) -> None:
    fast, slow = environment(), environment()
    EventReporter(request_fire(fast), "WS").report(settled_calls(500))
    EventReporter(slow.events.request.fire, "WS").report(settled_calls(500))
    assert stats_state(fast) == stats_state(slow)
    seen: list[dict[str, Any]] = []
    fast.events.request.add_listener(lambda **kwargs: seen.append(kwargs))
    EventReporter(request_fire(fast), "WS").report(settled_calls(200))
    assert len(seen) == 200 and fast.stats.total.num_requests == 700


def test_connections_share_one_shortcut_per_environment_until_what_it_was_made_from_changes() -> None:
    env, other = environment(), environment()
    first = request_fire(env)
    assert request_fire(env) is first  # not three closures per connection
    assert request_fire(other) is not first
    env.stats = RequestStats()  # new stats: the shortcut must log into them
    renewed = request_fire(env)
    assert renewed is not first
    assert request_fire(env) is renewed
