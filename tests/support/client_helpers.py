"""Helpers for ToolClient tests: an event recorder, token minting, a connected client, bounded waits."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gevent
import jwt

from users.engine.client import ClientSettings, ToolClient
from users.wire.metrics import WsCounters


@dataclass
class Recorder:
    """Collects request events as Locust would receive them."""

    events: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, **event: Any) -> None:
        self.events.append(event)

    def named(self, name: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["name"] == name]

    def codes(self, name: str) -> list[str | None]:
        return [repr(e["exception"]) if e["exception"] else None for e in self.named(name)]


def wait_until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """Yield to the hub (where reads are settled) until `condition` holds (bounded)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        gevent.sleep(0.01)


def token(secret: str, *, exp_in: float = 600, scope: list[str] | None = None) -> str:
    now = int(time.time())
    claims = {"sub": "t", "iat": now, "exp": now + int(exp_in), "scope": scope or ["tools:*"]}
    return jwt.encode(claims, secret, algorithm="HS256")


def open_client(server: Any, recorder: Recorder, **settings: Any) -> ToolClient:
    client = ToolClient(server.url, fire=recorder, counters=WsCounters(), settings=ClientSettings(**settings))
    client.connect()
    client.hello("test-session", token(server.jwt_secret))
    return client


def assert_identity(client: ToolClient) -> None:
    ledger = client.counters.calls
    assert ledger.in_flight == 0
    assert ledger.sent == ledger.ok + ledger.failed + ledger.timeout + ledger.lost
