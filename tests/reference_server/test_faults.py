"""Fault injection without sockets: fault state and validation, drop bodies, quotas, garbage, control lines, fan-out."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from reference_server import control
from reference_server.fault_control import FaultControl
from reference_server.faults import (
    DEFAULT_OVERSIZE_BYTES,
    GARBAGE_KINDS,
    UNKNOWN_ID_PREFIX,
    DropRequest,
    FaultError,
    Faults,
    garbage_frames,
    parse_drop,
    quota,
    split_quota,
)
from reference_server.messages import tool_error, tool_ok
from reference_server.stats_http import HttpError

ANSWER = tool_ok("r7", {"x": [1, 2]})


def test_default_is_no_fault() -> None:
    faults = Faults()
    assert faults.to_dict() == {
        "delay_ms": 0.0,
        "stall": False,
        "stall_hello": False,
        "garbage_fraction": 0.0,
        "garbage_kind": "not_json",
        "oversize_bytes": DEFAULT_OVERSIZE_BYTES,
        "drop_rate": 0.0,
        "handshake_status": 0,
    }
    assert not faults.affects_answers


def test_update_keeps_omitted_keys_and_round_trips() -> None:
    faults = Faults().updated({"delay_ms": 5, "garbage_kind": "binary_frame"}).updated({"stall": True})
    assert (faults.delay_ms, faults.garbage_kind, faults.stall) == (5.0, "binary_frame", True)
    assert faults.updated({}) == faults
    assert Faults.from_dict(json.loads(json.dumps(faults.to_dict()))) == faults
    assert faults.affects_answers
    assert Faults(garbage_fraction=0.1).affects_answers
    assert not Faults(stall_hello=True, handshake_status=503, drop_rate=1).affects_answers


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"delay_ms": -1}, "delay_ms"),
        ({"delay_ms": "10"}, "delay_ms"),
        ({"delay_ms": float("nan")}, "delay_ms"),
        ({"stall": 1}, "stall"),
        ({"stall_hello": "yes"}, "stall_hello"),
        ({"garbage_fraction": 1.5}, "garbage_fraction"),
        ({"garbage_fraction": True}, "garbage_fraction"),
        ({"garbage_kind": "nonsense"}, "garbage_kind"),
        ({"oversize_bytes": 10}, "oversize_bytes"),
        ({"oversize_bytes": 4096.0}, "oversize_bytes"),
        ({"drop_rate": -0.5}, "drop_rate"),
        ({"handshake_status": 200}, "handshake_status"),
        ({"handshake_status": 499}, "handshake_status"),
        ({"handshake_status": "401"}, "handshake_status"),
        ({"delay": 5}, "delay"),
    ],
)
def test_bad_values_name_their_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(FaultError) as info:
        Faults().updated(changes)
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ")


@pytest.mark.parametrize("status", [0, 401, 403, 429, 500, 503])
def test_handshake_statuses(status: int) -> None:
    assert Faults().updated({"handshake_status": status}).handshake_status == status


def test_parse_drop() -> None:
    assert parse_drop({"fraction": 0.5}) == DropRequest(0.5, "close", 1012)
    assert parse_drop({"fraction": 1, "mode": "reset", "code": 4000}) == DropRequest(1.0, "reset", 4000)
    for body, field in [
        ({}, "fraction"),
        ({"fraction": 2}, "fraction"),
        ({"fraction": "half"}, "fraction"),
        ({"fraction": 0.5, "mode": "kill"}, "mode"),
        ({"fraction": 0.5, "code": 1005}, "code"),
        ({"fraction": 0.5, "code": 1006}, "code"),
        ({"fraction": 0.5, "code": 5000}, "code"),
        ({"fraction": 0.5, "code": "1012"}, "code"),
        ({"fraction": 0.5, "extra": 1}, "extra"),
    ]:
        with pytest.raises(FaultError) as info:
            parse_drop(body)
        assert info.value.field == field, body


def test_quota_rounds_half_up_and_never_exceeds_count() -> None:
    assert [quota(8, f) for f in (0, 0.1, 0.25, 0.5, 0.7, 1)] == [0, 1, 2, 4, 6, 8]
    assert quota(3, 0.5) == 2 and quota(1, 0.49) == 0 and quota(0, 1) == 0
    assert quota(10, 0.3) == 3 and quota(10, 0.7) == 7  # no float drift


@pytest.mark.parametrize(
    ("counts", "fraction", "expected"),
    [
        ([4, 4], 0.5, [2, 2]),
        ([3, 5], 0.5, [2, 2]),  # 1.5 + 2.5 -> 4 in all, not 2 + 3
        ([1, 1], 0.5, [1, 0]),
        ([0, 6], 0.5, [0, 3]),
        ([5, 0, 2], 1.0, [5, 0, 2]),
        ([7, 9], 0.0, [0, 0]),
        ([], 0.5, []),
    ],
)
def test_split_quota_sums_to_the_global_quota(counts: list[int], fraction: float, expected: list[int]) -> None:
    split = split_quota(counts, fraction)
    assert split == expected
    assert sum(split) == quota(sum(counts), fraction)
    assert all(0 <= s <= c for s, c in zip(split, counts, strict=True))


def _only_text(frames: list[tuple[bool, bytes]]) -> bytes:
    assert len(frames) == 1 and frames[0][0] is False
    return frames[0][1]


def test_garbage_frames_of_each_kind() -> None:
    answer = json.loads(ANSWER)
    with pytest.raises(json.JSONDecodeError):
        json.loads(_only_text(garbage_frames("not_json", ANSWER, 1, 4096)))
    assert json.loads(_only_text(garbage_frames("not_object", ANSWER, 1, 4096))) == [answer]
    missing = json.loads(_only_text(garbage_frames("missing_request_id", ANSWER, 1, 4096)))
    assert "request_id" not in missing and missing["result"] == answer["result"]
    unknown = json.loads(_only_text(garbage_frames("unknown_request_id", ANSWER, 42, 4096)))
    assert unknown["request_id"] == f"{UNKNOWN_ID_PREFIX}42" and unknown["result"] == answer["result"]
    assert garbage_frames("duplicate_result", ANSWER, 1, 4096) == [(False, ANSWER), (False, ANSWER)]
    assert garbage_frames("binary_frame", ANSWER, 1, 4096) == [(True, ANSWER)]
    bad_text = _only_text(garbage_frames("invalid_utf8", ANSWER, 1, 4096))
    with pytest.raises(UnicodeDecodeError):
        bad_text.decode("utf-8")
    assert bad_text.startswith(ANSWER[:-1])
    big = _only_text(garbage_frames("oversize", ANSWER, 1, 4096))
    assert len(big) == 4096
    assert {k: v for k, v in json.loads(big).items() if k != "padding"} == answer


def test_garbage_of_an_error_answer_and_every_kind_is_known() -> None:
    error = tool_error("e1", "forbidden", "no")
    for kind in GARBAGE_KINDS:
        assert garbage_frames(kind, error, 1, 2048)
    with pytest.raises(ValueError):
        garbage_frames("nope", ANSWER, 1, 4096)


def test_oversize_never_truncates_a_longer_answer() -> None:
    long_answer = tool_ok("r", "y" * 3000)
    assert len(_only_text(garbage_frames("oversize", long_answer, 1, 1024))) > len(long_answer)


def test_control_command_lines_round_trip() -> None:
    line = control.command_line(control.CMD_DROP, {"count": 3, "mode": "reset", "code": 1012})
    assert line.endswith(b"\n")
    assert control.parse_command(line) == ("drop", {"count": 3, "mode": "reset", "code": 1012})
    assert control.parse_command(control.command_line(control.CMD_COUNT)) == ("count", {})
    assert control.parse_line(control.reply_line({"dropped": 2})) == ("reply", {"dropped": 2})
    for bad in (b"explode\n", b"drop [1]\n", b"faults {bad\n"):
        with pytest.raises(ValueError):
            control.parse_command(bad)
    with pytest.raises(ValueError):
        control.command_line("explode")


class FakeWorker:
    """Records commands; answers count with ``droppable`` and drop with what it was asked for."""

    def __init__(self, droppable: int, fail: bool = False) -> None:
        self.droppable = droppable
        self.fail = fail
        self.log: list[tuple[str, Any]] = []

    async def command(self, name: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        self.log.append((name, payload))
        if self.fail:
            return {"error": "broken"}
        if name == "count":
            return {"droppable": self.droppable}
        if name == "drop":
            count = payload["count"] if payload and payload["count"] is not None else self.droppable
            return {"dropped": count}
        return {}


def test_fault_control_splits_drops_and_fans_out_faults() -> None:
    a, b = FakeWorker(3), FakeWorker(5)
    fc = FaultControl([a, b], Faults())
    assert json.loads(asyncio.run(fc.post_drop(b'{"fraction": 0.5, "mode": "reset"}'))) == {"dropped": 4}
    assert a.log == [("count", None), ("drop", {"count": 2, "mode": "reset", "code": 1012})]
    assert b.log[-1] == ("drop", {"count": 2, "mode": "reset", "code": 1012})
    a.log.clear()
    assert json.loads(asyncio.run(fc.post_drop(b'{"fraction": 1}'))) == {"dropped": 8}
    assert a.log == [("drop", {"count": None, "mode": "close", "code": 1012})]  # all: no count round
    state = json.loads(asyncio.run(fc.post_faults(b'{"stall": true}')))
    assert state["stall"] is True and fc.faults.stall
    assert a.log[-1] == ("faults", state) and b.log[-1] == ("faults", state)
    with pytest.raises(HttpError) as info:
        asyncio.run(fc.post_faults(b'{"stall": 3}'))
    assert (info.value.status, info.value.field) == (400, "stall")
    assert fc.faults.stall is True  # unchanged


def test_fault_control_reports_a_worker_refusal() -> None:
    fc = FaultControl([FakeWorker(1), FakeWorker(1, fail=True)], Faults())
    with pytest.raises(HttpError) as info:
        asyncio.run(fc.post_reset(b""))
    assert info.value.status == 500 and "broken" in info.value.message
    assert fc.faults == Faults()
