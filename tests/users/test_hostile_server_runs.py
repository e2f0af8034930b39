"""Whole Locust runs against servers that choose a new string each time, answer ids never sent, or stop reading:
names stay bounded, failures are named, the ledger holds and the run ends by itself."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support.locust_run import LocustRun, ledger_closes, run_locust
from tests.support.misbehaving_server import misbehaving_server
from users.wire.correlation import BAD_ID_LIMIT
from users.wire.server_names import NAME_CHARS, OTHER

USERS = 4
RUN_S = 3
CAP = 3
OUR_NAMES = {"connect", "hello", "call_tool:echo", "protocol_error", "Aggregated"}
OUR_ENDS = ("connection_lost: write failed", "connection_lost: reset", "connection_lost: eof")
"""Failures of our own fixed wording, not made of a server's string: a write racing the server's close ends so."""
ENDS_WITHIN_S = 45.0
"""A 3 s run, its drain and Locust's start and stop on a machine shared with other test runs: generous."""


def run_against(tmp_path: Path, mode: str, *args: str, burst: int = 1) -> tuple[LocustRun, int, float]:
    """A headless run against `misbehaving_server --mode MODE`: the run, the sessions the server saw, seconds."""
    with misbehaving_server("--mode", mode, "--after", "3", "--burst", str(burst)) as server:
        started = time.monotonic()
        result = run_locust(
            tmp_path, server.url, "--tools", "echo", "--max-server-names", str(CAP), *args,
            env={"LOCUST_JWT_SECRET": server.jwt_secret}, users=USERS, run_time=f"{RUN_S}s",
        )  # fmt: skip
        return result, server.sessions(), time.monotonic() - started


def assert_ended_cleanly(result: LocustRun, took_s: float) -> dict[str, float]:
    assert result.returncode == 0, result.output[-2000:]
    assert "Traceback" not in result.output, result.output[-3000:]
    assert took_s < ENDS_WITHIN_S, took_s
    return ledger_closes(result)


@pytest.mark.parametrize(
    ("mode", "protocol", "kind"),
    [
        ("unique-pushes", "toolcall", "push"),  # a new topic per event
        ("unique-pushes", "jsonrpc", "push"),  # a new notification method per message
        ("unique-errors", "toolcall", "error"),  # a new error code per failed call
        ("unique-errors", "jsonrpc", "error"),  # a new JSON-RPC error message per failed call
        ("unique-close", "toolcall", "close"),  # a new close reason per session
    ],
)
def test_server_chosen_strings_make_at_most_cap_names_per_kind_plus_one_bucket(
    tmp_path: Path, mode: str, protocol: str, kind: str
) -> None:
    result, sessions, took_s = run_against(tmp_path, mode, "--protocol", protocol, "--in-flight", "4", burst=5)
    ws = assert_ended_cleanly(result, took_s)
    server_names = sorted(set(result.stats) - OUR_NAMES)
    server_errors = sorted({error for _, error in result.failures if not error.startswith(OUR_ENDS)})
    assert len(server_names) <= CAP + 1 and len(server_errors) <= CAP + 1, (server_names, server_errors)
    made = server_names if kind == "push" else server_errors
    assert len(made) == CAP + 1 and sum(OTHER in text for text in made) == 1, made  # the cap was reached
    for text in [*server_names, *server_errors]:  # cleaned: one printable line, cut short
        assert text.isprintable() and len(text) <= len("connection_lost: close ") + NAME_CHARS, text
    bucketed = sum(n for (_, error), n in result.failures.items() if OTHER in error)
    bucketed += sum(stats.requests for name, stats in result.stats.items() if OTHER in name)
    assert bucketed == ws["server_names_overflowed"] > 0
    if kind == "push":
        assert ws["pushes_received"] > ws["calls_ok"] > 0  # five pushes per answer
    warnings = [line for line in result.output.splitlines() if "distinct" in line and "WARNING" in line]
    assert len(warnings) == 1 and f"{CAP} distinct {kind} strings" in warnings[0], warnings


@pytest.mark.parametrize("protocol", ["toolcall", "jsonrpc"])
def test_a_server_answering_ids_never_sent_has_its_connections_failed_after_a_bounded_number(
    tmp_path: Path, protocol: str
) -> None:
    result, sessions, took_s = run_against(tmp_path, "unknown-ids", "--protocol", protocol, burst=200)
    ws = assert_ended_cleanly(result, took_s)
    reported = result.failures[("protocol_error", "unknown_request_id")]
    # every connection is failed at its BAD_ID_LIMIT-th unknown id: 200 per call would have been reported
    assert reported == ws["calls_unknown_results"] == BAD_ID_LIMIT * ws["closes_error"] > 0
    assert ws["connects"] == sessions and ws["closes_error"] >= sessions - USERS
    assert sessions <= 8 * USERS, sessions  # reconnects meet backoff, as after any error close
    assert set(result.failures) <= {("protocol_error", "unknown_request_id"),
                                    ("call_tool:echo", "connection_lost: bad_request_ids")}  # fmt: skip


def test_users_stopped_while_the_server_reads_nothing_lose_their_calls_as_write_stalled(tmp_path: Path) -> None:
    pad = "x" * 60_000
    with misbehaving_server("--mode", "stop-reading", "--after", "2") as server:
        started = time.monotonic()
        result = run_locust(
            tmp_path, server.url, "--tools", f'echo={{"pad":"{pad}"}}', "--in-flight", "100",
            "--call-timeout", "60", "--ping-interval", "0.5",
            env={"LOCUST_JWT_SECRET": server.jwt_secret}, users=2, run_time=f"{RUN_S}s",
        )  # fmt: skip
        took_s = time.monotonic() - started
    ws = assert_ended_cleanly(result, took_s)
    assert took_s < 30, took_s  # not the 60 s call timeout: the stalled writes are given up at the stop
    assert ws["write_stalls"] == 2 and ws["write_timeouts"] == 0
    assert dict(result.failures) == {("call_tool:echo", "connection_lost: write_stalled"): ws["calls_lost"]}
    assert ws["calls_lost"] > 0
