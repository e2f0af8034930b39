"""ClientCore without sockets: a server answering request ids never sent fails its connection after a small bound."""

from __future__ import annotations

import struct

import pytest

from tests.users.wire.test_core import ECHO, assert_counted_once, codes, frames_of, open_core, result
from users.wire.core import BAD_REQUEST_IDS, State
from users.wire.correlation import BAD_ID_LIMIT
from users.wire.events import ConnectionClosed, ProtocolFault
from users.wire.frames import OP_CLOSE


def unknown(count: int, start: int = 1000) -> bytes:
    return b"".join(result(str(start + i)) for i in range(count))


@pytest.mark.parametrize("one_read", [True, False])
def test_the_limit_th_unknown_id_fails_the_connection_with_1002_and_nothing_after_it_is_reported(
    one_read: bool,
) -> None:
    core = open_core()
    core.send_calls([ECHO] * 3, 200.0)
    core.data_to_send()
    flood = [unknown(1, 1000 + i) for i in range(BAD_ID_LIMIT * 50)]
    if one_read:  # every answer in one read: the ones after the limit are never looked at
        core.receive_data(b"".join(flood), 200.1)
    else:
        for chunk in flood:
            core.receive_data(chunk, 200.1)
    events = core.events_received()
    faults = [e for e in events if isinstance(e, ProtocolFault)]
    assert faults == [ProtocolFault("unknown_request_id")] * BAD_ID_LIMIT
    assert codes(events) == [f"connection_lost: {BAD_REQUEST_IDS}"] * 3
    assert isinstance(events[-1], ConnectionClosed) and events[-1].how == BAD_REQUEST_IDS
    assert core.state is State.CLOSED and core.counters.closes_error == 1
    assert core.counters.calls.unknown_results == BAD_ID_LIMIT == core.counters.protocol_errors
    close = [payload for opcode, payload in frames_of(core.data_to_send()) if opcode == OP_CLOSE]
    assert [struct.unpack("!H", p[:2])[0] for p in close] == [1002]
    assert_counted_once(core)


def test_duplicate_answers_count_towards_the_limit() -> None:
    core = open_core()
    core.send_calls([ECHO], 200.0)
    core.data_to_send()
    core.receive_data(result("1") * BAD_ID_LIMIT, 200.1)  # answered, then BAD_ID_LIMIT - 1 duplicates
    assert core.state is State.OPEN and core.counters.calls.duplicate_results == BAD_ID_LIMIT - 1
    core.receive_data(unknown(1), 200.2)
    assert core.state is State.CLOSED and core.closed is not None and core.closed.how == BAD_REQUEST_IDS


def test_fewer_bad_ids_and_any_number_of_late_results_keep_the_connection() -> None:
    core = open_core(call_timeout_s=1.0)
    core.send_calls([ECHO] * 30, 200.0)
    core.data_to_send()
    core.tick(201.5)  # all 30 time out; their answers are late (a slow server), not broken ids
    core.receive_data(b"".join(result(str(i)) for i in range(1, 31)), 201.6)
    core.receive_data(unknown(BAD_ID_LIMIT - 1), 201.7)
    assert core.state is State.OPEN and core.counters.calls.late_results == 30
    assert core.counters.calls.unknown_results == BAD_ID_LIMIT - 1
