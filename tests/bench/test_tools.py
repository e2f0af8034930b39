"""The A/B and profiling tools under bench/, on tiny loads (no timing asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench.compare import apply_patches, copy_tree
from tests.support.locust_run import ROOT

pytestmark = pytest.mark.timeout(180)


def test_copy_tree_and_apply_patch(tmp_path: Path) -> None:
    tree = copy_tree(tmp_path / "tree")
    assert (tree / "locustfile.py").is_file() and (tree / "users" / "engine" / "client.py").is_file()
    assert not (tree / ".venv").exists()
    patch = tmp_path / "change.diff"
    first, second = (tree / "users" / "__init__.py").read_text().splitlines()[:2]  # a trailing context line
    patch.write_text(
        f"--- a/users/__init__.py\n+++ b/users/__init__.py\n@@ -1,2 +1,2 @@\n-{first}\n+# patched\n {second}\n"
    )
    apply_patches(tree, [patch])
    assert (tree / "users" / "__init__.py").read_text().startswith("# patched")


def run_module(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m MODULE ARGS` from the repository root, bounded; its exit code asserted 0."""
    done = subprocess.run(
        [sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True, timeout=150, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def test_compare_runs_a_pair_against_a_revision() -> None:
    done = run_module("bench.compare", "--base-rev", "HEAD", "--shape", "2x10", "--repeats", "1", "--run-time", "3")
    assert "candidate / base" in done.stdout


def test_compare_runs_a_rate_pair_between_two_revisions() -> None:
    done = run_module(
        "bench.compare", "--base-rev", "HEAD", "--candidate-rev", "HEAD", "--shape", "20x1", "--rate", "200",
        "--repeats", "1", "--run-time", "3",
    )  # fmt: skip
    assert "--rate 200 over 20 users each" in done.stdout and "CPU µs per call" in done.stdout


def test_compare_prometheus_scrapes_the_candidate() -> None:
    done = run_module("bench.compare", "--prometheus", "--shape", "2x10", "--repeats", "1", "--run-time", "4")
    scrapes = re.search(r"\((\d+) scrapes\)", done.stdout)
    assert "candidate / base" in done.stdout and scrapes and int(scrapes[1]) >= 2, done.stdout


def test_prometheus_cost_reports_the_share_a_scrape_adds() -> None:
    done = run_module("bench.prometheus_cost", "--shape", "2x10", "--run-time", "3", "--scrapes", "5")
    share = re.search(r"one scrape \(([\d,]+) bytes\) ([\d.]+) CPU ms; .* adds ([\d.]+)% CPU per call", done.stdout)
    assert share and int(share[1].replace(",", "")) > 1000 and float(share[2]) > 0, done.stdout


def test_cpu_profile_reports_cpu_samples() -> None:
    done = run_module("bench.cpu_profile", "--shape", "2x10", "--run-time", "4", "--warmup", "1", "--top", "40")
    sampled = re.search(r"([\d,]+) CPU ms in samples", done.stdout)
    assert sampled and int(sampled[1].replace(",", "")) > 0, done.stdout
    assert "self CPU" in done.stdout and "inclusive CPU" in done.stdout


def test_cpu_profile_of_the_open_model() -> None:
    done = run_module(
        "bench.cpu_profile", "--shape", "20x1", "--rate", "200", "--run-time", "4", "--warmup", "2", "--top", "40"
    )
    assert "--rate 200 over 20 users" in done.stdout and "self CPU" in done.stdout


def test_cpu_profile_refuses_a_negative_rate() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.cpu_profile", "--rate", "-1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "error: --rate must be >= 0" in done.stderr
