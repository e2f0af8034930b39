"""Running `python -m probe` as a subprocess and reading what it printed and wrote."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
LINE = re.compile(r"^(OK|NON-STRICT|FAILED|INFORMATIONAL) +(\d+(?:\.\d+)+) +(.*)$")
PROBE_TIMEOUT_S = 300.0
CASE_TIMEOUT = ("--timeout", "5")
"""Each case may take 5 s here (2 s by default): the machine is shared; a later --timeout in a test wins."""


@dataclass
class ProbeRun:
    """One finished probe: exit code, output, and each case's behaviour by id as printed."""

    code: int
    stdout: str
    stderr: str

    @property
    def behaviors(self) -> dict[str, str]:
        found = (LINE.match(line) for line in self.stdout.splitlines())
        return {m.group(2): m.group(1) for m in found if m}

    def with_behavior(self, behavior: str) -> set[str]:
        return {case for case, b in self.behaviors.items() if b == behavior}

    def index(self, out: Path) -> dict[str, Any]:
        return json.loads((out / "index.json").read_text())


def run_probe(*args: str, secret: str | None = None, env: dict[str, str] | None = None) -> ProbeRun:
    """`python -m probe ARGS` with the secret (if any) in LOCUST_JWT_SECRET, never on the command line."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
    if secret is not None:
        full["LOCUST_JWT_SECRET"] = secret
    full.update(env or {})
    done = subprocess.run([sys.executable, "-m", "probe", *CASE_TIMEOUT, *args], cwd=ROOT, env=full, capture_output=True,
                          text=True, timeout=PROBE_TIMEOUT_S)  # fmt: skip
    return ProbeRun(done.returncode, done.stdout, done.stderr)
