"""Where a Locust process spends its CPU: a sampling profiler driven by CPU time, not wall time.

    python -m bench.cpu_profile [--shape 4x100] [--run-time 10] [--top 30] [--tree DIR]
    python -m bench.cpu_profile --shape 1000x1 --rate 10000 --run-time 25 --warmup 12   # the open model
    python -m bench.cpu_profile --shape 50x1 --session-calls 1                          # connection churn

Runs a real headless Locust process (``locust -f locustfile.py``) against a
reference server, with a SIGPROF interval timer installed inside it
(ITIMER_PROF counts the process's own user + system CPU time, every 1 ms of
it). At each tick the current Python stack (the greenlet running, since
gevent keeps every greenlet on the main thread) is recorded, weighted by the
CPU time spent since the tick before. Python handles a signal only between
bytecodes, so ticks that fall in C code (a system call, the hub's loop,
orjson) merge into one: the weight charges all of that CPU to the Python line
that runs next, the one that called the C code (counting ticks instead would
under-count C code several times over). Time the process spends waiting for
a CPU while other programs run is not CPU time, so it leaves no samples:
unlike wall-clock samplers (py-spy, cProfile), the profile holds on a shared
machine.

Prints self and inclusive shares of the samples taken in the steady part of
the run (after the warm-up), by function, and writes collapsed stacks
(flamegraph.pl / speedscope input) next to the run.
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
from pathlib import Path

from bench.bench_throughput import LOCUSTFILE, Shape
from bench.common import REPO_ROOT, LoadSpec, clean_env, locust_command, reference_server, run_load_processes
from run_files import WS_CSV, run_file

WRAPPER = """
import atexit, collections, signal, sys, time, runpy
out, warmup, interval = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
sys.argv = ["locust", *sys.argv[4:]]
stacks = collections.Counter()
started = time.monotonic()
last = [time.process_time()]
def tick(signum, frame):
    cpu = time.process_time()
    spent, last[0] = cpu - last[0], cpu
    if time.monotonic() - started < warmup:
        return
    names = []
    while frame is not None:
        code = frame.f_code
        names.append(f"{code.co_name} ({code.co_filename.rsplit('site-packages/', 1)[-1]}:{frame.f_lineno})")
        frame = frame.f_back
    stacks[";".join(reversed(names))] += round(spent * 1e6)  # µs of CPU since the last tick handled
def dump():
    signal.setitimer(signal.ITIMER_PROF, 0)
    with open(out, "w") as f:
        for stack, n in stacks.items():
            f.write(f"{stack} {n}\\n")
atexit.register(dump)
signal.signal(signal.SIGPROF, tick)
signal.setitimer(signal.ITIMER_PROF, interval, interval)
runpy.run_module("locust", run_name="__main__", alter_sys=True)
"""


def summarise(collapsed: Path, top: int) -> tuple[list[tuple[float, str]], list[tuple[float, str]], int]:
    """(self shares, inclusive shares, CPU µs sampled) by function (file and name, lines merged)."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        total += n
        frames = [f.rsplit(":", 1)[0] + ")" for f in stack.split(";")]
        own[frames[-1]] += n
        for name in set(frames):
            inclusive[name] += n
    shares = lambda c: [(n / max(1, total), name) for name, n in c.most_common(top)]  # noqa: E731
    return shares(own), shares(inclusive), total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", default="4x100", help="USERSxIN_FLIGHT (default %(default)s)")
    parser.add_argument("--run-time", type=float, default=10.0, help="seconds (default %(default)s)")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds not profiled (default %(default)s)")
    parser.add_argument("--top", type=int, default=30, help="lines per table (default %(default)s)")
    parser.add_argument("--tree", type=Path, default=REPO_ROOT, help="source tree to run Locust from")
    parser.add_argument("--out", type=Path, default=None, help="collapsed stacks file (default: a temp file)")
    parser.add_argument(
        "--rate", type=int, default=0, help="open model: --scenario rate --rate N over the shape's users (0: off)"
    )
    parser.add_argument("--session-calls", type=int, default=0, help="churn: calls per session (0: keep connections)")
    args = parser.parse_args(argv)
    if args.rate < 0:
        parser.error("--rate must be >= 0")
    users, _, in_flight = args.shape.partition("x")
    shape = Shape(args.shape, int(users), int(in_flight))
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp, reference_server("--workers", "1") as server:
        out = args.out or Path(tmp) / "stacks.txt"
        wrapper = Path(tmp) / "wrapper.py"
        wrapper.write_text(WRAPPER)
        prefix = Path(tmp) / "profiled"
        locust_args = locust_command(
            args.tree / LOCUSTFILE.relative_to(REPO_ROOT),
            server.url,
            shape.users,
            shape.users,
            args.run_time,
            prefix,
            *(
                ["--scenario", "rate", "--rate", str(args.rate), "--stage-duration", f"{args.run_time:g}s"]
                if args.rate
                else ["--in-flight", str(shape.in_flight)]
            ),
            *(["--session-calls", str(args.session_calls)] if args.session_calls else []),
        )[3:]
        command = [sys.executable, str(wrapper), str(out), str(args.warmup), "0.001", *locust_args]
        env = clean_env(LOCUST_JWT_SECRET=server.jwt_secret, PYTHONPATH=str(args.tree))
        (run,) = run_load_processes(
            [LoadSpec("profiled", command, env, run_file(prefix, WS_CSV), args.tree)],
            server,
            timeout_s=args.run_time + 60,
        )
        if run.returncode not in (0, 1) or not out.exists():
            print(run.output[-3000:], file=sys.stderr)
            return 1
        own, inclusive, total = summarise(out, args.top)
        calls = run.rows[-1].get("calls_ok", 0) if run.rows else 0
        load = (
            f"--rate {args.rate} over {shape.users} users"
            if args.rate
            else f"{shape.users} users x {shape.in_flight} in flight"
        )
        print(
            f"{total / 1000:,.0f} CPU ms in samples after a {args.warmup:g} s warm-up; {calls:,.0f} calls in the run "
            f"(Locust, {load})"
        )
        print("\nself CPU (function where the sample landed)")
        for share, name in own:
            print(f"  {100 * share:5.1f}%  {name}")
        print("\ninclusive CPU (function anywhere on the stack)")
        for share, name in inclusive:
            print(f"  {100 * share:5.1f}%  {name}")
        if args.out:
            print(f"\ncollapsed stacks: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
