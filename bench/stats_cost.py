"""CPU per Locust request event (fire + stats), with Locust's buckets and with ours; prints one JSON line.

    python -m bench.stats_cost [--events 100000] [--rounds 5] [--tree DIR]

In-process and deterministic: a real Environment with a local runner (so the
runner's stats listener is attached as in a run), then the same 100,000
request events (latencies drawn like a loopback run's: log-normal, median
4 ms) fired through ``environment.events.request.fire`` with each bucket
function in turn, interleaved over rounds; the best round of each is kept.
It prices the latency resolution without any network noise: the difference
per event, set against the Locust user's CPU per call, is its throughput cost.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from locust import User
from locust import stats as locust_stats
from locust.env import Environment
from locust.event import Events

REPO_ROOT = Path(__file__).resolve().parents[1]


class _User(User):
    abstract = False


def event_cost_us(bucket, latencies: list[float], rounds: int) -> float:  # type: ignore[no-untyped-def]
    """Best-of-`rounds` process CPU microseconds per request event with `bucket` installed."""
    original = locust_stats.bucket_response_time
    locust_stats.bucket_response_time = bucket
    try:
        environment = Environment(user_classes=[_User], events=Events())
        runner = environment.create_local_runner()
        fire = environment.events.request.fire
        best = float("inf")
        for _ in range(rounds):
            start = time.process_time()
            for rt in latencies:
                fire(
                    request_type="WS",
                    name="call_tool:echo",
                    response_time=rt,
                    response_length=40,
                    exception=None,
                    context={},
                )
            best = min(best, time.process_time() - start)
        runner.quit()
    finally:
        locust_stats.bucket_response_time = original
    return 1e6 * best / len(latencies)


def _bucket_module(tree: Path) -> Any:
    """The module of `tree` that holds the fine buckets (where it is now, or where older trees kept it)."""
    for relative in ("users/integration/stats_path.py", "users/latency_resolution.py"):
        path = tree / relative
        if path.exists():
            spec = importlib.util.spec_from_file_location("_latency_resolution", path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module
    raise SystemExit(f"error: no latency buckets module under {tree}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000, help="events per round (default %(default)s)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default %(default)s)")
    parser.add_argument("--tree", type=Path, default=REPO_ROOT, help="source tree whose users/ to load")
    args = parser.parse_args(argv)
    module = _bucket_module(args.tree)
    rng = random.Random(7)
    latencies = [rng.lognormvariate(1.4, 0.5) for _ in range(args.events)]
    coarse = getattr(module, "ORIGINAL_BUCKET", None) or module._ORIGINAL_BUCKET
    buckets = {"coarse": coarse, "fine": module.fine_bucket_response_time}
    costs: dict[str, list[float]] = {name: [] for name in buckets}
    for _ in range(args.rounds):
        for name, bucket in buckets.items():
            costs[name].append(event_cost_us(bucket, latencies, 1))
    result = {f"{name}_us_per_event": statistics.median(values) for name, values in costs.items()}
    result["extra_us_per_event"] = statistics.median(
        f - c for f, c in zip(costs["fine"], costs["coarse"], strict=False)
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
