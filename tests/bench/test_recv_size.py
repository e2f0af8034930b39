"""bench.recv_size: each buffer size measured, the client's RECV_BYTES among them, and `python -m bench` lists it."""

from __future__ import annotations

from bench import recv_size
from bench.__main__ import BENCHMARKS
from users.engine.sockets import RECV_BYTES


def test_every_size_is_measured_and_recv_bytes_is_judged() -> None:
    entry, (target,) = recv_size.run(quick=True, repeats=1)
    assert set(entry["us_per_read"]) == {str(size) for size in recv_size.SIZES}
    assert all(values["median"] > 0 for values in entry["us_per_read"].values())
    assert RECV_BYTES in recv_size.SIZES and entry["recv_bytes"] == RECV_BYTES
    assert target.name.startswith("recv of RECV_BYTES")
    assert "recv_size" in BENCHMARKS
