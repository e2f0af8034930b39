"""Counters: JSON shape and exact summing across workers."""

from reference_server.counters import STATS_KEYS, Counters, empty_stats, sum_stats


def test_snapshot_has_every_key_in_order_and_starts_at_zero() -> None:
    snap = Counters().to_dict()
    assert tuple(snap) == STATS_KEYS
    assert snap == empty_stats()
    assert snap["hello_refused"] == {} and snap["results_error"] == {}


def test_snapshot_is_a_copy() -> None:
    counters = Counters()
    counters.result_error("timeout")
    snap = counters.to_dict()
    counters.result_error("timeout")
    counters.results_ok += 1
    assert snap["results_error"] == {"timeout": 1} and snap["results_ok"] == 0


def test_sum_adds_plain_counters_and_per_code_objects() -> None:
    a, b = Counters(), Counters()
    a.calls_received, b.calls_received = 3, 4
    a.bytes_out, b.bytes_out = 10, 5
    a.refuse_hello("invalid_token")
    b.refuse_hello("invalid_token")
    b.refuse_hello("token_expired")
    a.result_error("forbidden")
    total = sum_stats([a.to_dict(), b.to_dict()])
    assert total["calls_received"] == 7 and total["bytes_out"] == 15
    assert total["hello_refused"] == {"invalid_token": 2, "token_expired": 1}
    assert total["results_error"] == {"forbidden": 1}
    assert tuple(total) == STATS_KEYS


def test_sum_of_nothing_is_zero() -> None:
    assert sum_stats([]) == empty_stats()


def test_fault_counters_are_summed_key_by_key() -> None:
    a, b = Counters(), Counters()
    a.calls_unanswered, b.calls_unanswered = 2, 3
    a.hellos_unanswered = 1
    Counters.bump(a.faults_injected, "binary_frame")
    Counters.bump(b.faults_injected, "binary_frame", 2)
    Counters.bump(b.handshakes_refused, "503")
    Counters.bump(a.connections_dropped, "reset")
    Counters.bump(b.connections_dropped, "close", 4)
    total = sum_stats([a.to_dict(), b.to_dict()])
    assert total["calls_unanswered"] == 5 and total["hellos_unanswered"] == 1
    assert total["faults_injected"] == {"binary_frame": 3}
    assert total["handshakes_refused"] == {"503": 1}
    assert total["connections_dropped"] == {"close": 4, "reset": 1}
