"""`make bench`: run every benchmark in turn; each prints a table and merges its entry into bench/results.json."""

from __future__ import annotations

import sys

from bench import bench_server


def main(argv: list[str]) -> int:
    """Run the benchmarks with their defaults (arguments go to each)."""
    return bench_server.main(argv) or 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
