"""Pure caps on names made of server strings (users/wire/server_names.py) and the reporter using them: no sockets."""

from __future__ import annotations

import logging

import pytest

from tests.support.client_helpers import Recorder
from users.engine.reporter import EventReporter
from users.wire.correlation import PendingCall
from users.wire.errors import (
    CallFailed,
    CallTimeout,
    ConnectFailed,
    ConnectionLost,
    HelloRefused,
    ServerProtocolError,
    WsFailure,
)
from users.wire.events import HelloAnswered, ProtocolFault, PushReceived
from users.wire.metrics import WsCounters
from users.wire.protocol import PushEvent
from users.wire.server_names import NAME_CHARS, OTHER, NameBudget, bounded_failure, clean


def test_clean_makes_one_printable_line_of_bounded_length() -> None:
    assert clean("ticks") == "ticks"
    assert clean("a\r\nb\x1b[31m\tc\u2028") == "a??b?[31m?c?"
    long = clean("x" * 500)
    assert len(long) == NAME_CHARS and long.endswith("…") and long[:-1] == "x" * (NAME_CHARS - 1)
    assert clean("y" * NAME_CHARS) == "y" * NAME_CHARS


def test_the_first_distinct_values_keep_their_names_then_one_bucket_and_one_warning_per_kind(
    caplog: pytest.LogCaptureFixture,
) -> None:
    budget = NameBudget(limit=3)
    with caplog.at_level(logging.WARNING, logger="users.wire.server_names"):
        names = [budget.name("error", f"E{i}") for i in range(10)]
        pushes = [budget.push_name(f"t{i}") for i in range(5)]
        again = [budget.name("error", f"E{i}") for i in range(3)]
    assert names == ["E0", "E1", "E2", *[OTHER] * 7]
    assert pushes == ["push:t0", "push:t1", "push:t2", "push:<other>", "push:<other>"]
    assert again == ["E0", "E1", "E2"]  # a value that made it keeps its name for the whole run
    assert budget.overflowed == 7 + 2
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 2 and "3 distinct error strings" in warnings[0] and "distinct push" in warnings[1]


def test_values_that_clean_to_one_name_share_it_and_memory_stays_bounded() -> None:
    budget = NameBudget(limit=5)
    assert budget.name("push", "a\nb") == budget.name("push", "a\rb") == "push:a?b"
    assert budget.overflowed == 0
    for i in range(20_000):
        budget.name("push", f"{i}\n")
        budget.name("push", "p" * 200 + str(i))  # all cut to the same 80 characters
    state = budget.kind("push")
    assert len(state.names) == 5 and len(state.known) <= 5 * 4
    assert budget.overflowed == 20_000 - 3  # two of the five names were a?b and p…, three numbers made it


@pytest.mark.parametrize(
    ("first", "second", "kind", "cleaned", "bucketed"),
    [
        (CallFailed("E1\n"), CallFailed("E2"), "error", "E1?", OTHER),
        (ConnectionLost("close 4001 a\n"), ConnectionLost("close 4002 a"), "close",
         "connection_lost: close 4001 a?", "connection_lost: close <other>"),
        (HelloRefused("expired\n"), HelloRefused("revoked"), "error", "expired?", OTHER),
        (HelloRefused("connection_closed", "close 1011 r\n"), HelloRefused("connection_closed", "close 1011 s"),
         "close", "connection_closed: close 1011 r?", "connection_closed: close <other>"),
        (ServerProtocolError("server_error_a\n"), ServerProtocolError("server_error_b"), "error",
         "server_error_a?", "server_error_<other>"),
        (ConnectFailed("ExtensionError: x\n"), ConnectFailed("ExtensionError: y"), "connect",
         "connect_failed: ExtensionError: x?", "connect_failed: <other>"),
    ],
)  # fmt: skip
def test_every_failure_carrying_a_server_string_is_cleaned_then_bucketed(
    first: WsFailure, second: WsFailure, kind: str, cleaned: str, bucketed: str
) -> None:
    budget = NameBudget(limit=1)
    one = bounded_failure(first, budget)
    assert repr(one) == cleaned and one.__class__ is first.__class__
    two = bounded_failure(second, budget)
    assert repr(two) == bucketed and two.__class__ is second.__class__
    assert budget.overflowed == 1 and budget.kind(kind).capped


@pytest.mark.parametrize(
    "failure",
    [
        CallTimeout(),
        ConnectionLost("reset"),
        ConnectionLost("write_stalled"),
        HelloRefused("hello_timeout"),
        ServerProtocolError("unknown_request_id"),
    ],
)
def test_failures_the_client_names_pass_as_they_are_and_take_nothing_from_the_budget(failure: WsFailure) -> None:
    budget = NameBudget(limit=1)
    assert bounded_failure(failure, budget) is failure
    assert budget.overflowed == 0 and not any(budget.kind(k).names for k in ("error", "close", "connect"))


def settled(failure: WsFailure | None) -> PendingCall:
    call = PendingCall("1", "echo", 1.0)
    call.settled_at, call.length, call.failure, call.result = 1.5, 10, failure, None
    return call


def test_the_reporter_fires_bounded_names_and_messages_and_the_counters_show_the_overflow() -> None:
    counters = WsCounters()
    counters.names.limit = 2
    recorder = Recorder()
    reporter = EventReporter(recorder, "WS", counters.names)
    reporter.report([PushReceived(PushEvent(f"t{i}", None, None), 5) for i in range(50)])
    reporter.report([settled(CallFailed(f"E{i}")) for i in range(50)])
    reporter.report([ProtocolFault(f"server_error_c{i % 2}") for i in range(50)])  # the error kind is full
    reporter.report([HelloAnswered(None, HelloRefused("bad\nhello"), 0.1)])
    assert {e["name"] for e in recorder.events} == {"push:t0", "push:t1", "push:<other>", "call_tool:echo",
                                                    "protocol_error", "hello"}  # fmt: skip
    assert set(recorder.codes("call_tool:echo")) == {"E0", "E1", OTHER}
    assert set(recorder.codes("protocol_error")) == {"server_error_<other>"}
    assert recorder.codes("hello") == [OTHER]
    assert counters.snapshot()["server_names_overflowed"] == 48 + 48 + 50 + 1


def test_a_handshake_failure_keeps_up_to_200_characters_of_the_os_s_words() -> None:
    detail = "SSLCertVerificationError: IP address mismatch, certificate is not valid for '127.0.0.1'. (_ssl.c:1006)"
    assert repr(bounded_failure(ConnectFailed(detail), NameBudget())) == f"connect_failed: {detail}"
    cut = repr(bounded_failure(ConnectFailed("x" * 500), NameBudget()))
    assert cut == "connect_failed: " + "x" * 199 + "…"
