"""A user's seat: its connection's lifecycle (open, reopen with backoff, storm drop, session end, leave)."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable

import gevent
from gevent import GreenletExit
from locust.env import Environment

from users.engine.client import ClientSettings, ToolClient
from users.integration import request_fire
from users.load.backoff import attempts_after_session, reconnect_delay, retry_after_delay
from users.load.config import config_state
from users.load.sessions import SESSION_NAME, SessionBudget
from users.wire.auth import TokenSource, corrupt
from users.wire.errors import WsFailure
from users.wire.metrics import WsCounters
from users.wire.protocol import CallTemplate
from users.wire.protocols.base import Template

RETRY_AFTER_CAP_S = 60.0
"""Longest wait a server's Retry-After can ask for (also capped at the run's end)."""
_SHARED_RNG = random.Random()
"""Backoff jitter for every seat of the process: a Random per seat would cost about 3 KB per connection."""


def remaining_run_s(environment: Environment) -> float | None:
    """Seconds left of a run with -t (None without one)."""
    config = config_state(environment).config
    run_time = config.run_time if config is not None else None
    if not run_time:
        return None
    return max(0.0, float(run_time) - (time.time() - environment.stats.start_time))


def connection_token(tokens: TokenSource | None, bad: bool, counters: WsCounters) -> str | None:
    """A connection's token (broken for a bad-token user); None without credentials."""
    if tokens is None:
        return None
    token = tokens.token_for(time.time())
    counters.tokens_minted = getattr(tokens, "minted", 0)
    return corrupt(token) if bad else token


class Seat:
    """One user's connection from its first open to its leave, and the counts that go with it.

    `open` connects, sends hello (session `PREFIX-<random>`) and the subscription; a failure is reported by the
    client and leaves the seat empty. `reopen` opens again: at once after a storm drop, otherwise after capped,
    jittered exponential backoff (users/load/backoff.py) or the wait a refused upgrade's Retry-After asked for. A
    finished session (`end_session`, a 1000 close) is followed at once by the next (`open_next_session`). `leave` drains the calls in flight and closes. Counted here:
    reconnect_attempts and reconnects (opens after one that succeeded), storm_drops, sessions. Randomness (`rng`)
    and waiting (`sleep`) are injectable.
    """

    __slots__ = (
        "environment", "url", "settings", "counters", "tokens", "bad_token", "session_prefix", "subscription",
        "base_s", "cap_s", "rng", "sleep", "client", "session", "failed_attempts", "retry_after", "was_connected",
        "storm_dropped",
    )  # fmt: skip  # one per user: no __dict__

    def __init__(
        self,
        environment: Environment,
        url: str,
        settings: ClientSettings,
        counters: WsCounters,
        *,
        tokens: TokenSource | None = None,
        session_prefix: str = "locust",
        subscription: Template | None = None,
        base_s: float = 0.1,
        cap_s: float = 5.0,
        rng: random.Random = _SHARED_RNG,
        sleep: Callable[[float], object] = gevent.sleep,
    ) -> None:
        self.environment = environment
        self.url = url
        self.settings = settings
        self.counters = counters
        """Where this seat's connections count; a user sets its run's at start."""
        self.tokens = tokens
        self.bad_token = False
        """This seat sends a token with a broken signature (--bad-token-fraction)."""
        self.session_prefix = session_prefix
        self.subscription = subscription
        self.base_s = base_s
        self.cap_s = cap_s
        self.rng = rng
        self.sleep = sleep
        self.client: ToolClient | None = None
        """The connection, open or ended; None before the first open and after a failed or left one."""
        self.session: SessionBudget | None = None
        """The calls the connection's session has left, with connection churn."""
        self.failed_attempts = 0
        self.retry_after: float | None = None
        """The wait a refused upgrade asked for (Retry-After), used once."""
        self.was_connected = False
        """An open from now on is a reconnect."""
        self.storm_dropped = False
        """A storm dropped the connection: the next reopen goes at once."""

    # ------------------------------------------------------------ opening
    def open(self) -> bool:
        """Open a connection, send hello and the subscription; True on success. Failures are already reported as
        events (and counted for the backoff)."""
        if self.tokens is None and not self.settings.wire_protocol().bearer_token:
            raise RuntimeError("ToolCallUser needs Locust's parsed options (--jwt-secret or --token)")
        counters = self.counters
        client = ToolClient(self.url, fire=request_fire(self.environment), counters=counters, settings=self.settings)
        if self.was_connected:
            counters.reconnect_attempts += 1
        try:
            token = connection_token(self.tokens, self.bad_token, counters)
            client.connect(token)
            client.hello(f"{self.session_prefix}-{uuid.uuid4().hex[:16]}", token or "")
        except WsFailure as exc:
            self.client = None
            self.retry_after = getattr(exc, "retry_after_s", None)
            self.failed_attempts += 1
            return False
        except BaseException:
            client.close()  # stopped mid-connect or mid-hello: the connection is closed and counted, not left open
            raise
        if self.was_connected:
            counters.reconnects += 1
        self.was_connected = True
        self.client = client
        if self.subscription is not None:
            client.call(self.subscription)
        return True

    def next_wait_s(self) -> float:
        """Seconds to wait before the next open: none after a connection that lived long and closed cleanly,
        growing backoff after failures and short lives, or what the server's Retry-After asked for (capped at
        RETRY_AFTER_CAP_S and the run's end). An ended connection is let go here."""
        ended = self.client
        if ended is not None and not ended.connected:
            self.failed_attempts = attempts_after_session(self.failed_attempts, ended.lived_s, ended.ended_cleanly)
            self.client = None
        retry_after, self.retry_after = self.retry_after, None
        if retry_after is not None:  # the server said when: that instead
            return retry_after_delay(retry_after, RETRY_AFTER_CAP_S, remaining_run_s(self.environment))
        return reconnect_delay(self.failed_attempts, self.base_s, self.cap_s, self.rng)

    def reopen(self) -> bool:
        """Open again: at once after a storm drop, otherwise after `next_wait_s`; True on success."""
        if self.storm_dropped:
            self.storm_dropped = False
            self.failed_attempts = 0
            self.client = None
            return self.open()
        wait = self.next_wait_s()
        if wait:
            self.sleep(wait)
        return self.open()

    def connected(self) -> ToolClient | None:
        """The open connection, reopened (`reopen`) when it is gone; None while that fails."""
        client = self.client
        if client is None or not client.connected:
            self.reopen()
            client = self.client
        return client if client is not None and client.connected else None

    # ------------------------------------------------------------ ending
    def drop_for_storm(self) -> None:
        """A storm (the process's StormDropper) drops the connection at once, wherever its user is: its calls in
        flight become connection_lost, and the next `reopen` goes without backoff."""
        client = self.client
        if client is not None and client.connected:
            self.counters.storm_drops += 1
            self.storm_dropped = True
            client.drop("storm")

    def session_budget(self, calls: int, pick: Callable[[int], list[CallTemplate]]) -> SessionBudget:
        """The calls the open connection's session has left (`calls` in all), made at its first slice."""
        client = self.client
        assert client is not None  # the user's policy runs on an open connection
        budget = self.session
        if budget is None or budget.client is not client:
            budget = self.session = SessionBudget(client, calls, pick)
        return budget

    def end_session(self) -> None:
        """Close a finished session with 1000 (not a failure: the next open is a new session, not a reconnect, and
        goes without backoff), count it and report its duration, from the handshake to the close, as the
        request `session`."""
        client = self.client
        if client is not None:
            client.close()
        self.client = self.session = None
        self.was_connected = False
        if client is None:
            return
        self.counters.sessions += 1
        request_fire(self.environment)(
            request_type=self.settings.request_type,
            name=SESSION_NAME,
            response_time=client.lived_s * 1000.0,
            response_length=0,
            exception=None,
            context={},
        )

    def open_next_session(self) -> bool:
        """Open the next session in a greenlet of its own: a stop that lands meanwhile waits for it (bounded by the
        connect and hello timeouts) and closes it with 1000, so the server never counts a connection or a hello
        the client did not."""
        opener = gevent.spawn(self.open)
        try:
            return bool(opener.get())
        except GreenletExit:
            opener.join(self.settings.connect_timeout_s + self.settings.hello_timeout_s)
            client, self.client = self.client, None
            if client is not None:
                client.close()
            raise

    def leave(self) -> None:
        """Drain the calls in flight (bounded by the call timeout), then close the connection."""
        client = self.client
        if client is not None:
            client.drain()
            client.close()
