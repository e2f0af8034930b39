"""A/B a change to the Locust user before it lands: this tree against a copy with patches applied.

    python -m bench.compare --patch proposed.diff                         # pipelined 4x100, 5 pairs
    python -m bench.compare --patch a.diff --patch b.diff --shape 200x1 --repeats 7
    python -m bench.compare --base-rev HEAD~3                             # the working tree against an older commit
    python -m bench.compare --base-rev HEAD~2 --candidate-rev HEAD~1      # one commit against the one before it
    python -m bench.compare --base-patch a.diff --patch b.diff            # b's gain on top of a
    python -m bench.compare --patch proposed.diff --connections 20000     # memory and connect rate instead
    python -m bench.compare --base-rev HEAD~3 --shape 1000x1 --rate 10000  # the open model: CPU per call, late sends
    python -m bench.compare --prometheus                                  # the cost of --prometheus-port, scraped 1/s

Both sides are copies of the source tree (``git ls-files``: tracked and
untracked-not-ignored files, so uncommitted work is included), made in a
temporary directory; the candidate gets the patches (``git apply``), or the
base is ``git archive REV``. Throughput pairs start both Locust processes at
the same moment against one 2-worker reference server, so whatever else the
machine is doing slows both alike; the figures are the candidate's calls/s
and CPU per call relative to the base's, median (min..max) over pairs. With
--connections, each side runs bench_connections in turn (memory does not
drift with load the way throughput does). With --rate, each pair is two
``--scenario rate`` processes pacing that rate over the shape's users at
once, compared by CPU per call sent and the share of calls sent late. With
--prometheus (or --candidate-arg), both sides are the same tree and only the
candidate gets the arguments: --prometheus serves /metrics on a free port,
scraped once a second while the pair runs, as a Prometheus would.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from bench import bench_connections
from bench.bench_open_model import CONNECT_S_PER_USER, open_model_figures, rate_spec
from bench.bench_throughput import LOCUSTFILE, Shape, locust_spec
from bench.common import (
    REPO_ROOT,
    LoadRun,
    LoadSpec,
    fmt_spread,
    print_table,
    reference_server,
    run_load_processes,
    summary,
    throughput,
)

T = TypeVar("T")
PROMETHEUS = "--prometheus"
"""The --candidate-arg that stands for `--prometheus-port <a free port> --prometheus-linger 0`, scraped each second."""


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def scraping(url: str, every_s: float = 1.0) -> Iterator[list[int]]:
    """GET `url` every `every_s` in a thread while the block runs; yields [scrapes answered]."""
    answered = [0]
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(every_s):
            try:
                with urllib.request.urlopen(url, timeout=2) as answer:
                    answer.read()
                answered[0] += 1
            except OSError:
                pass

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield answered
    finally:
        stop.set()
        thread.join(5)


def candidate_args(args: Sequence[str]) -> tuple[list[str], str | None]:
    """The candidate's extra Locust arguments, and the /metrics URL to scrape (PROMETHEUS) or None."""
    out: list[str] = []
    url = None
    for arg in args:
        if arg == PROMETHEUS:
            port = free_port()
            out += ["--prometheus-port", str(port), "--prometheus-linger", "0"]
            url = f"http://127.0.0.1:{port}/metrics"
        else:
            out.append(arg)
    return out, url


def copy_tree(destination: Path, rev: str | None = None) -> Path:
    """The working tree's files (or commit `rev`'s) under `destination`."""
    destination.mkdir(parents=True)
    if rev:
        archive = subprocess.run(["git", "archive", rev], cwd=REPO_ROOT, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(destination)], input=archive, check=True)
        return destination
    listed = (
        subprocess.run(
            ["git", "ls-files", "-z", "-co", "--exclude-standard"], cwd=REPO_ROOT, capture_output=True, check=True
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, listed):
        source = REPO_ROOT / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination


def apply_patches(tree: Path, patches: list[Path]) -> None:
    """`git apply` each patch inside `tree` (a plain directory, not a repository)."""
    for patch in patches:
        done = subprocess.run(
            ["git", "apply", "--unsafe-paths", "--directory=.", str(patch.resolve())],
            cwd=tree,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise SystemExit(f"compare: {patch} does not apply: {done.stderr.strip()}")


def run_pairs(
    base: Path,
    candidate: Path,
    spec_for: Callable[[Any, Path, str, Path], LoadSpec],
    measure: Callable[[LoadRun], T],
    describe: Callable[[T], str],
    repeats: int,
    timeout_s: float,
    extra: Sequence[str] = (),
) -> list[tuple[T, T]]:
    """`repeats` pairs of processes, the base's and the candidate's (`spec_for(server, workdir, label, tree)`, the
    candidate's with `extra` arguments), run at once against one 2-worker server, taking turns at starting first;
    each pair's (base, candidate) figures by `measure`, printed by `describe` as they come."""
    pairs: list[tuple[T, T]] = []
    with tempfile.TemporaryDirectory(prefix="bench-compare-") as tmp, reference_server("--workers", "2") as server:
        for r in range(repeats):
            specs = [spec_for(server, Path(tmp), "base", base), spec_for(server, Path(tmp), "candidate", candidate)]
            args, url = candidate_args(extra)
            specs[1].command.extend(args)
            if r % 2:
                specs.reverse()
            with scraping(url) if url else _no_scrape() as scraped:
                runs = {run.label: run for run in run_load_processes(specs, server, timeout_s=timeout_s)}
            a, b = measure(runs["base"]), measure(runs["candidate"])
            pairs.append((a, b))
            note = f" ({scraped[0]} scrapes)" if url else ""
            print(f"  [{r + 1}/{repeats}] base {describe(a)} | candidate {describe(b)}{note}", flush=True)
    return pairs


@contextmanager
def _no_scrape() -> Iterator[list[int]]:
    yield [0]


def compare_throughput(
    base: Path,
    candidate: Path,
    shape: Shape,
    repeats: int,
    run_time_s: float,
    warmup_s: float,
    extra: Sequence[str] = (),
) -> dict[str, Any]:
    """Concurrent base/candidate Locust pairs; ratios candidate/base."""
    pairs = run_pairs(
        base,
        candidate,
        lambda server, tmp, label, tree: locust_spec(
            server, shape, run_time_s, tmp, tree / LOCUSTFILE.relative_to(REPO_ROOT), label, tree
        ),
        lambda run: throughput(run, shape.users, warmup_s),
        lambda t: f"{t.calls_per_s:,.0f} calls/s {1000 * t.cpu_s_per_1k_calls:.2f} CPU ms/1k",
        repeats,
        run_time_s + 60,
        extra,
    )
    result = {
        "shape": shape.name,
        "base_calls_per_s": summary([a.calls_per_s for a, _ in pairs]),
        "candidate_calls_per_s": summary([b.calls_per_s for _, b in pairs]),
        "calls_ratio": summary([b.calls_per_s / a.calls_per_s for a, b in pairs]),
        "base_cpu_ms_per_1k": summary([1000 * a.cpu_s_per_1k_calls for a, _ in pairs]),
        "candidate_cpu_ms_per_1k": summary([1000 * b.cpu_s_per_1k_calls for _, b in pairs]),
        "cpu_ratio": summary([b.cpu_s_per_1k_calls / a.cpu_s_per_1k_calls for a, b in pairs]),
    }
    print_table(
        f"candidate vs base, {shape.name} each, run together (median (min..max) of {repeats})",
        ["", "base", "candidate", "candidate / base"],
        [["calls/s", fmt_spread(result["base_calls_per_s"]), fmt_spread(result["candidate_calls_per_s"]),
          fmt_spread(result["calls_ratio"], 1, pct=True)],
         ["CPU ms per 1k calls", fmt_spread(result["base_cpu_ms_per_1k"], 2),
          fmt_spread(result["candidate_cpu_ms_per_1k"], 2), fmt_spread(result["cpu_ratio"], 1, pct=True)]],
    )  # fmt: skip
    return result


def compare_open_model(
    base: Path,
    candidate: Path,
    shape: Shape,
    rate: int,
    repeats: int,
    run_time_s: float,
    warmup_s: float,
    extra: Sequence[str] = (),
) -> dict[str, Any]:
    """Concurrent base/candidate rate runs (`rate` calls/s over `shape.users` each); ratios candidate/base."""
    stage_s = shape.users * CONNECT_S_PER_USER + warmup_s + run_time_s + 2
    pairs = run_pairs(
        base,
        candidate,
        lambda server, tmp, label, tree: rate_spec(server, shape.users, rate, stage_s, tmp, tree, label),
        lambda run: open_model_figures(run, shape.users, rate, warmup_s),
        lambda f: f"{f['cpu_us_per_call']:.1f} µs/call {f['late_share']:.2%} late",
        repeats,
        stage_s + 60,
        extra,
    )
    result = {
        "shape": shape.name,
        "rate": rate,
        "base_cpu_us_per_call": summary([a["cpu_us_per_call"] for a, _ in pairs]),
        "candidate_cpu_us_per_call": summary([b["cpu_us_per_call"] for _, b in pairs]),
        "cpu_ratio": summary([b["cpu_us_per_call"] / a["cpu_us_per_call"] for a, b in pairs]),
        "base_late_share": summary([a["late_share"] for a, _ in pairs]),
        "candidate_late_share": summary([b["late_share"] for _, b in pairs]),
    }
    print_table(
        f"candidate vs base, --rate {rate:,} over {shape.users:,} users each, run together (median (min..max) of {repeats})",
        ["", "base", "candidate", "candidate / base"],
        [["CPU µs per call", fmt_spread(result["base_cpu_us_per_call"], 1),
          fmt_spread(result["candidate_cpu_us_per_call"], 1), fmt_spread(result["cpu_ratio"], 1, pct=True)],
         ["sent > 10 ms late", fmt_spread(result["base_late_share"], 2, pct=True),
          fmt_spread(result["candidate_late_share"], 2, pct=True), ""]],
    )  # fmt: skip
    return result


def parse_shape(text: str) -> Shape:
    users, _, in_flight = text.partition("x")
    return Shape(f"{int(users)}x{int(in_flight)}", int(users), int(in_flight))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patch", type=Path, action="append", default=[], help="unified diff for the candidate")
    parser.add_argument("--base-rev", default=None, help="git revision for the base (default: the working tree)")
    parser.add_argument("--candidate-rev", default=None, help="git revision for the candidate (default: working tree)")
    parser.add_argument(
        "--base-patch",
        type=Path,
        action="append",
        default=[],
        help="unified diff applied to both sides first (to measure a change on top of others)",
    )
    parser.add_argument("--shape", type=parse_shape, default=Shape("4x100", 4, 100), help="USERSxIN_FLIGHT")
    parser.add_argument("--repeats", type=int, default=5, help="pairs (default %(default)s)")
    parser.add_argument("--run-time", type=float, default=10.0, help="seconds per run (default %(default)s)")
    parser.add_argument("--connections", type=int, default=0, help="compare connection scale at N connections")
    parser.add_argument("--rate", type=int, default=0, help="compare the open model: calls/s over the shape's users")
    parser.add_argument("--candidate-arg", action="append", default=[], help="a Locust argument for the candidate only")
    parser.add_argument(PROMETHEUS, action="store_true", help="candidate: --prometheus-port, scraped each second")
    args = parser.parse_args(argv)
    extra = args.candidate_arg + ([PROMETHEUS] if args.prometheus else [])
    if not args.patch and not args.base_rev and not extra:
        parser.error("give --patch (candidate = working tree + patches), --base-rev, --candidate-arg or --prometheus")
    with tempfile.TemporaryDirectory(prefix="bench-trees-") as tmp:
        base = copy_tree(Path(tmp) / "base", args.base_rev)
        candidate = copy_tree(Path(tmp) / "candidate", args.candidate_rev)
        apply_patches(base, args.base_patch)
        apply_patches(candidate, args.base_patch + args.patch)
        if args.connections:
            for label, tree in (("base", base), ("candidate", candidate)):
                print(f"== {label}")
                bench_connections.run(connections=args.connections, tree=tree)
        elif args.rate:
            compare_open_model(base, candidate, args.shape, args.rate, args.repeats, args.run_time, 3.0, extra)
        else:
            compare_throughput(base, candidate, args.shape, args.repeats, args.run_time, 2.0, extra)
    return 0


if __name__ == "__main__":
    sys.exit(main())
