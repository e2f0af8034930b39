"""What one `recv` of a small message costs by the buffer size asked for: the reason for users/engine/sockets.py's
RECV_BYTES.

    python -m bench.recv_size [--quick] [--repeats 3]

A 70-byte message (a tool_result's size) is sent and received over a local
socket pair, many times, for each buffer size, each in a fresh interpreter;
the figure is µs per send + recv, and each size's ratio to the smallest.
CPython allocates the whole buffer asked for, then shrinks it: in a fresh
process, a buffer above glibc's mmap threshold (128 KiB) costs an mmap, an
mremap and a munmap on every read. (A long-running process whose threshold
glibc has already raised may not pay it: that is why each size gets its
own.)
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from bench.common import Target, print_table, run_main, summary
from users.engine.sockets import RECV_BYTES

SIZES = (16 * 1024, 64 * 1024, 256 * 1024)
#: RECV_BYTES may cost at most this much more than the smallest buffer.
TARGET = 1.2


PROBE = """
import socket, sys
from time import perf_counter
size, rounds = int(sys.argv[1]), int(sys.argv[2])
ours, theirs = socket.socketpair()
message = b"x" * 70
start = perf_counter()
for _ in range(rounds):
    ours.send(message)
    theirs.recv(size)
print((perf_counter() - start) / rounds * 1e6)
"""
"""One size, measured in a fresh interpreter: how glibc places a large buffer depends on the process's past."""


def us_per_read(size: int, rounds: int) -> float:
    """µs per send + recv of a 70-byte message asking recv for `size` bytes, in a fresh process."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(size), str(rounds)], capture_output=True, text=True, timeout=120, check=True
    )
    return float(done.stdout.strip())


def run(
    quick: bool = False, repeats: int | None = None, run_time_s: float | None = None
) -> tuple[dict[str, Any], list[Target]]:
    """Each size `repeats` times, interleaved; the entry and its target (`run_time_s` is not used)."""
    repeats = repeats or (1 if quick else 3)
    rounds = 2_000 if quick else 50_000
    got: dict[int, list[float]] = {size: [] for size in SIZES}
    for _ in range(repeats):
        for size in SIZES:
            got[size].append(us_per_read(size, rounds))
    smallest = min(SIZES)
    ratios = {size: [v / s for v, s in zip(got[size], got[smallest], strict=True)] for size in SIZES}
    entry = {
        "rounds": rounds,
        "repeats": repeats,
        "recv_bytes": RECV_BYTES,
        "us_per_read": {str(size): summary(values) for size, values in got.items()},
        "ratio_to_smallest": {str(size): summary(values) for size, values in ratios.items()},
    }
    rows = [
        [f"{size // 1024} KiB" + (" (RECV_BYTES)" if size == RECV_BYTES else ""),
         f"{entry['us_per_read'][str(size)]['median']:.2f}", f"{entry['ratio_to_smallest'][str(size)]['median']:.2f}x"]
        for size in SIZES
    ]  # fmt: skip
    print_table(f"send + recv of a 70-byte message (median of {repeats})", ["recv buffer", "µs", "ratio"], rows)
    target = Target(
        "recv of RECV_BYTES over the smallest buffer",
        entry["ratio_to_smallest"][str(RECV_BYTES)]["median"],
        TARGET,
        "x",
        at_most=True,
    )
    entry["targets"] = [target.as_dict()]
    return entry, [target]


CLI_HELP = ("2,000 rounds, one repeat (smoke test)", "repeats (default 3)", "not used here")


def main(argv: list[str] | None = None) -> int:
    return run_main(argv, __doc__, run, "recv_size", CLI_HELP)


if __name__ == "__main__":
    sys.exit(main())
