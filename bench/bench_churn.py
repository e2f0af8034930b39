"""Connection churn: the Locust user's sessions/s (--session-calls 1) against the native client's, same concurrency.

    python -m bench.bench_churn [--quick] [--repeats 3] [--run-time 8]
    python -m bench.bench_churn --tls [--quick] [--repeats 3]     # over wss://, resumption on and off (bench.churn_tls)

A session is connect + hello + one echo call + a 1000 close (waiting for the
server's). In each repeat, against one reference server (1 worker), the
native client (``bench.native_churn``: picows + uvloop + orjson, 50 session
loops on one event loop) and a real ``locust -f locustfile.py --headless
-u 50 --session-calls 1`` process run back to back, in alternating order.
Each side's sessions/s is counted from its own per-second counters (the
``sessions`` column) from ``WARMUP_S`` into the run to a second before its end;
client CPU per session over the same window, from /proc. The server's
``connections_opened`` and ``hello_ok`` are checked against each side's
connects and hellos (exact). The ratio Locust / native is computed within each
repeat, so the machine's drift cancels; the median over repeats meets the
target or not.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bench.bench_throughput import LOCUSTFILE
from bench.common import (
    REPO_ROOT,
    LoadRun,
    LoadSpec,
    Target,
    clean_env,
    fmt_spread,
    interpolate,
    locust_command,
    merge_results,
    mint_token,
    print_table,
    reference_server,
    run_load_processes,
    summary,
)
from run_files import WS_CSV, run_file

USERS = 50
SESSION_CALLS = 1
TARGET = 0.50
"""Locust / native sessions/s (issue 22)."""
WARMUP_S = 2.0


@dataclass(frozen=True)
class Churn:
    """One side's churn over its steady window, and whether its counts equal the server's."""

    sessions_per_s: float
    cpu_ms_per_session: float
    server_cpu_ms_per_session: float
    sessions: int
    server_agrees: bool
    connects: int = 0
    tls_resumed: int = 0
    """Of the run's connections, those whose TLS handshake resumed a session (the server's count; wss:// only)."""


def steady_churn(rows: list[dict[str, float]], run_time_s: float, warmup_s: float) -> tuple[float, float, float]:
    """(start time, end time, sessions) between the first row `warmup_s` into the run and the last row a second
    before its end (rows written while stopping are left out); NaNs when fewer than two rows fit."""
    inside = [r for r in rows if warmup_s <= r.get("elapsed_s", -1) <= run_time_s - 1.0]
    if len(inside) < 2:
        return float("nan"), float("nan"), float("nan")
    first, last = inside[0], inside[-1]
    return first["timestamp"], last["timestamp"], last["sessions"] - first["sessions"]


def churn_of(run: LoadRun, run_time_s: float, warmup_s: float, server_counts: tuple[int, int]) -> Churn:
    """Sessions/s and client CPU per session of one finished run; `server_counts`: the server's connections
    opened and hellos ok during it."""
    if not run.rows:
        tail = "\n".join(run.output.strip().splitlines()[-15:])
        raise RuntimeError(f"churn {run.label}: no counters (exit {run.returncode}); output:\n{tail}")
    t0, t1, sessions = steady_churn(run.rows, run_time_s, warmup_s)
    cpu = interpolate(run.samples, t1, lambda s: s.cpu_s) - interpolate(run.samples, t0, lambda s: s.cpu_s)
    server = interpolate(run.samples, t1, lambda s: s.server_cpu_s) - interpolate(
        run.samples, t0, lambda s: s.server_cpu_s
    )
    final = run.rows[-1]
    agrees = server_counts == (int(final["connects"]), int(final["hellos_ok"]))
    per = 1000.0 / sessions if sessions else float("nan")
    return Churn(sessions / (t1 - t0), per * cpu, per * server, int(sessions), agrees)


def specs(server: Any, run_time_s: float, workdir: Path, tree: Path) -> dict[str, LoadSpec]:
    """The two sides: the native churn client and a Locust process, each writing its counters in `workdir`."""
    native_csv = workdir / "native-churn.csv"
    native = [
        sys.executable, "-m", "bench.native_churn", "--url", server.url, "--connections", str(USERS),
        "--session-calls", str(SESSION_CALLS), "--duration", f"{run_time_s:g}", "--csv", str(native_csv),
    ]  # fmt: skip
    prefix = workdir / "locust-churn"
    locustfile = tree / LOCUSTFILE.relative_to(REPO_ROOT)
    locust = locust_command(
        locustfile, server.url, USERS, USERS, run_time_s, prefix, "--session-calls", str(SESSION_CALLS)
    )
    return {
        "native": LoadSpec("native", native, clean_env(BENCH_TOKEN=mint_token(server.jwt_secret)), native_csv),
        "locust": LoadSpec(
            "locust", locust, clean_env(LOCUST_JWT_SECRET=server.jwt_secret), run_file(prefix, WS_CSV), tree
        ),
    }


def measure(spec: LoadSpec, server: Any, run_time_s: float, warmup_s: float) -> Churn:
    """Run one side alone; its churn, checked against the server's counts over the run (and its count of resumed
    TLS sessions against the client's own, when the client keeps one: the native client's `tls_resumed`)."""
    before = server.stats()
    (run,) = run_load_processes([spec], server, timeout_s=run_time_s + 60)
    after = server.stats()
    opened, hellos, resumed = (
        int(after.get(k, 0)) - int(before.get(k, 0)) for k in ("connections_opened", "hello_ok", "tls_sessions_resumed")
    )
    churn = churn_of(run, run_time_s, warmup_s, (opened, hellos))
    client_resumed = run.rows[-1].get("tls_resumed", resumed)
    agrees = churn.server_agrees and int(client_resumed) == resumed
    return replace(churn, server_agrees=agrees, connects=opened, tls_resumed=resumed)


def run(
    quick: bool = False, repeats: int | None = None, run_time_s: float | None = None, tree: Path = REPO_ROOT
) -> tuple[dict[str, Any], list[Target]]:
    """Every repeat of both sides; the entry for bench/results.json and the target."""
    repeats = repeats or (1 if quick else 3)
    run_time_s = run_time_s or (4.0 if quick else 8.0)
    warmup_s = 1.0 if quick else WARMUP_S
    rounds: list[dict[str, Churn]] = []
    with tempfile.TemporaryDirectory(prefix="bench-churn-") as tmp, reference_server("--workers", "1") as server:
        sides = specs(server, run_time_s, Path(tmp), tree)
        for r in range(repeats):
            order = ["native", "locust"] if r % 2 == 0 else ["locust", "native"]
            got = {side: measure(sides[side], server, run_time_s, warmup_s) for side in order}
            rounds.append(got)
            native, locust = got["native"], got["locust"]
            print(
                f"  [{r + 1}/{repeats}] native {native.sessions_per_s:,.0f} sessions/s "
                f"(client/server CPU {native.cpu_ms_per_session:.2f}/{native.server_cpu_ms_per_session:.2f} ms each), "
                f"locust {locust.sessions_per_s:,.0f} (client/server CPU {locust.cpu_ms_per_session:.2f}/"
                f"{locust.server_cpu_ms_per_session:.2f} ms each): {locust.sessions_per_s / native.sessions_per_s:.0%}",
                flush=True,
            )
    ratios = [g["locust"].sessions_per_s / g["native"].sessions_per_s for g in rounds]
    entry: dict[str, Any] = {
        "users": USERS,
        "session_calls": SESSION_CALLS,
        "run_time_s": run_time_s,
        "repeats": repeats,
        "ratio": summary(ratios),
        "server_agrees": all(c.server_agrees for g in rounds for c in g.values()),
    }
    for side in ("native", "locust"):
        entry[side] = {
            "sessions_per_s": summary([g[side].sessions_per_s for g in rounds]),
            "cpu_ms_per_session": summary([g[side].cpu_ms_per_session for g in rounds]),
            "server_cpu_ms_per_session": summary([g[side].server_cpu_ms_per_session for g in rounds]),
        }
    print_table(
        f"Connection churn ({USERS} users, connect + hello + {SESSION_CALLS} call + close per session)",
        ["side", "sessions/s", "client CPU ms/session", "server CPU ms/session"],
        [[side, fmt_spread(entry[side]["sessions_per_s"]), fmt_spread(entry[side]["cpu_ms_per_session"], 2),
          fmt_spread(entry[side]["server_cpu_ms_per_session"], 2)] for side in ("native", "locust")]
        + [["locust / native", fmt_spread(entry["ratio"], pct=True), "", ""],
           ["counts equal the server's", "yes" if entry["server_agrees"] else "NO", "", ""]],
    )  # fmt: skip
    targets = [
        Target(
            "churn sessions/s, Locust / native", 100 * entry["ratio"]["median"], 100 * TARGET, "%",
            issue22=f"churn {USERS} users, {SESSION_CALLS} call/session: Locust / native sessions/s",
        )
    ]  # fmt: skip
    entry["targets"] = [t.as_dict() for t in targets]
    return entry, targets


def main(argv: list[str] | None = None) -> int:
    """The shared run(quick, repeats, run_time) command line, plus --tls (bench.churn_tls, recorded as churn_tls)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one repeat of 4 s a side")
    parser.add_argument("--repeats", type=int, default=None, help="repeats (default 3)")
    parser.add_argument("--run-time", type=float, default=None, help="seconds per side (default 8)")
    parser.add_argument("--tls", action="store_true", help="over wss://: Locust and native, TLS resumption on and off")
    parser.add_argument("--tree", type=Path, default=REPO_ROOT, help="source tree the Locust side runs from")
    parser.add_argument("--no-write", action="store_true", help="do not update bench/results.json")
    args = parser.parse_args(argv)
    if args.tls:
        from bench import churn_tls

        entry, targets = churn_tls.run(args.quick, args.repeats, args.run_time, args.tree)
    else:
        entry, targets = run(args.quick, args.repeats, args.run_time, args.tree)
    for target in targets:
        print(target.line())
    if not args.no_write:
        merge_results({"churn_tls" if args.tls else "churn": entry})
    return 0


if __name__ == "__main__":
    sys.exit(main())
