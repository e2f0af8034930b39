"""bench/server_hotpath.py still drives both shapes: this tree against HEAD, a few batches, every call answered."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.server_hotpath import base_package, compare


def test_the_hotpath_bench_compares_this_tree_with_a_revision(tmp_path: Path) -> None:
    results = compare(base_package("HEAD", tmp_path), repeats=2)  # asserts the ledger of both sides
    assert set(results) == {"toolcall", "jsonrpc"}
    for figures in results.values():
        assert 0 < figures["base_us"] < 1000 and 0 < figures["candidate_us"] < 1000
        assert figures["ratio"] == pytest.approx(figures["candidate_us"] / figures["base_us"], rel=1e-3)
