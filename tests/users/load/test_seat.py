"""users.load.seat: a user's connection lifecycle; backoff decisions without sockets, opens against a real server."""

from __future__ import annotations

import random
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from locust.env import Environment

from reference_server.launcher import RunningServer, start_reference_server
from tests.support.client_helpers import Recorder
from users.engine.client import ClientSettings
from users.load.backoff import STABLE_AFTER_S
from users.load.seat import RETRY_AFTER_CAP_S, Seat
from users.load.sessions import SESSION_NAME
from users.wire.auth import Minter
from users.wire.metrics import WsCounters
from users.wire.protocol import CallTemplate

BASE_S, CAP_S = 0.1, 5.0


class Sleeps(list[float]):
    """The waits a seat asked for, not slept."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    with start_reference_server() as running:
        yield running


MADE: list[Seat] = []
"""Every seat a test made: left at its end, pass or fail, so no test leaves a connection to the next."""


@pytest.fixture(autouse=True)
def leave_seats() -> Iterator[None]:
    yield
    while MADE:
        MADE.pop().leave()


def make_seat(url: str, secret: str = "s" * 32, **kwargs: Any) -> tuple[Seat, Recorder, Sleeps]:
    environment = Environment()
    recorder = Recorder()
    environment.events.request.add_listener(recorder)
    sleeps = Sleeps()
    settings = ClientSettings(connect_timeout_s=2.0, hello_timeout_s=2.0, call_timeout_s=2.0)
    seat = Seat(
        environment, url, settings, WsCounters(), tokens=Minter(secret), base_s=BASE_S, cap_s=CAP_S, sleep=sleeps,
        **kwargs,
    )  # fmt: skip
    MADE.append(seat)
    return seat, recorder, sleeps


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ------------------------------------------------------------------ no sockets
def test_a_fresh_seat_opens_at_once_and_failures_back_off_up_to_the_cap() -> None:
    seat, _, _ = make_seat("ws://127.0.0.1:1/", rng=random.Random(7))
    assert seat.next_wait_s() == 0.0
    for attempts, ceiling in ((1, BASE_S), (3, 4 * BASE_S), (12, CAP_S)):
        seat.failed_attempts = attempts
        waits = [seat.next_wait_s() for _ in range(50)]
        assert all(ceiling / 2 <= w <= ceiling for w in waits), (attempts, min(waits), max(waits))
        assert max(waits) - min(waits) > ceiling / 10  # jittered, not one value


def test_retry_after_is_taken_once_instead_of_the_backoff_and_capped() -> None:
    seat, _, _ = make_seat("ws://127.0.0.1:1/")
    seat.failed_attempts = 1
    seat.retry_after = 2.5
    assert seat.next_wait_s() == 2.5
    assert seat.retry_after is None and seat.next_wait_s() <= BASE_S  # once only: the backoff again
    seat.retry_after = 10 * RETRY_AFTER_CAP_S
    assert seat.next_wait_s() == RETRY_AFTER_CAP_S


def test_a_storm_drop_without_a_connection_flags_nothing() -> None:
    seat, _, _ = make_seat("ws://127.0.0.1:1/")
    seat.drop_for_storm()
    assert (seat.storm_dropped, seat.counters.storm_drops) == (False, 0)


def test_a_seat_without_credentials_for_a_token_protocol_says_so_before_connecting() -> None:
    environment = Environment()
    seat = Seat(environment, "ws://127.0.0.1:1/", ClientSettings(), WsCounters())
    with pytest.raises(RuntimeError, match="--jwt-secret or --token"):
        seat.open()
    assert seat.counters.connects == 0


# ------------------------------------------------------------------ real sockets
def test_refused_opens_count_failures_and_the_reopen_waits_longer_each_time() -> None:
    seat, recorder, sleeps = make_seat(f"ws://127.0.0.1:{free_port()}/", rng=random.Random(3))
    assert seat.open() is False and seat.client is None and seat.failed_attempts == 1
    for _ in range(4):
        assert seat.reopen() is False
    assert seat.failed_attempts == 5 and len(sleeps) == 4
    ceilings = [BASE_S * 2**i for i in range(4)]
    assert all(c / 2 <= s <= c for s, c in zip(sleeps, ceilings, strict=True)), sleeps
    assert len(recorder.named("connect")) == 5 and all(e["exception"] for e in recorder.named("connect"))
    assert seat.counters.reconnect_attempts == 0  # never connected: first attempts, not reconnects


def test_a_storm_drop_is_flagged_counted_and_reopened_at_once(server: RunningServer) -> None:
    seat, recorder, sleeps = make_seat(server.url, server.jwt_secret or "")
    seat.failed_attempts = 4  # left from earlier refusals: a storm reopen does not pay for them
    assert seat.open() is True
    first = seat.client
    assert first is not None and first.connected
    seat.drop_for_storm()
    assert seat.storm_dropped and seat.counters.storm_drops == 1 and not first.connected
    seat.drop_for_storm()  # already dropped: not counted twice
    assert seat.counters.storm_drops == 1
    assert seat.reopen() is True
    assert sleeps == [] and not seat.storm_dropped and seat.failed_attempts == 0
    assert seat.client is not first and seat.client is not None and seat.client.connected
    counters = seat.counters
    assert (counters.reconnect_attempts, counters.reconnects) == (1, 1)
    assert len(recorder.named("hello")) == 2
    seat.leave()


def test_a_short_lived_connection_that_ends_unasked_reopens_after_backoff(server: RunningServer) -> None:
    seat, _, sleeps = make_seat(server.url, server.jwt_secret or "")
    assert seat.open() is True
    client = seat.client
    assert client is not None
    client.drop("gone")  # not a storm: the connection just ended, well under STABLE_AFTER_S
    assert client.lived_s < STABLE_AFTER_S
    assert seat.connected() is not None  # custom tasks' connected_client(): reopened
    assert len(sleeps) == 1 and BASE_S / 2 <= sleeps[0] <= BASE_S and seat.failed_attempts == 1
    assert seat.connected() is seat.client  # still open: no reopen, no wait
    assert len(sleeps) == 1
    seat.leave()


def test_a_finished_session_closes_cleanly_and_the_next_open_is_no_reconnect(server: RunningServer) -> None:
    seat, recorder, sleeps = make_seat(server.url, server.jwt_secret or "")
    assert seat.open() is True
    budget = seat.session_budget(2, lambda n: [CallTemplate("echo", {})] * n)
    assert seat.session_budget(2, lambda n: []) is budget  # the same connection's session
    first = seat.client
    assert first is not None and first.call(CallTemplate("echo", {})).ok
    seat.end_session()
    assert first.ended_cleanly and seat.client is None and seat.session is None
    assert seat.counters.sessions == 1
    sessions = recorder.named(SESSION_NAME)
    assert len(sessions) == 1 and sessions[0]["exception"] is None and sessions[0]["response_time"] > 0
    assert seat.open_next_session() is True
    assert seat.counters.reconnect_attempts == 0 and sleeps == []
    seat.leave()


def test_leave_settles_every_call_in_flight_before_closing(server: RunningServer) -> None:
    seat, recorder, _ = make_seat(server.url, server.jwt_secret or "")
    assert seat.open() is True
    client = seat.client
    assert client is not None
    client.send_calls([CallTemplate("sleep", {"ms": 200})] * 3)
    assert client.in_flight == 3
    seat.leave()
    assert client.in_flight == 0 and not client.connected and client.ended_cleanly
    calls = recorder.named("call_tool:sleep")
    assert len(calls) == 3 and all(e["exception"] is None for e in calls)
    server.wait_stats(lambda s: s["connections_closed"] == s["connections_opened"])  # none left open


def test_a_bad_token_seat_is_refused_at_hello_and_backs_off(server: RunningServer) -> None:
    seat, recorder, _ = make_seat(server.url, server.jwt_secret or "")
    seat.bad_token = True
    assert seat.open() is False and seat.client is None and seat.failed_attempts == 1
    assert [e["exception"] is not None for e in recorder.named("hello")] == [True]
    assert seat.next_wait_s() > 0
