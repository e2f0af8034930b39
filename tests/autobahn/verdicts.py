"""Pure reading of Autobahn's reports/clients/index.json: which cases of ours are not acceptable."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

PASSING = ("OK", "INFORMATIONAL")
LENIENT = ("NON-STRICT", "FAILED")
"""A NON-STRICT case of ours is accepted where the yardstick is NON-STRICT (or worse) too."""


def acceptable(ours: str, yardstick: str | None) -> bool:
    """OK / INFORMATIONAL always; NON-STRICT only where the yardstick client is no better."""
    return ours in PASSING or (ours == "NON-STRICT" and yardstick in LENIENT)


def problems(
    ours: Mapping[str, Mapping[str, Any]],
    yardstick: Mapping[str, Mapping[str, Any]],
    expected: Mapping[str, str],
    may_pass: Collection[str] = (),
) -> list[str]:
    """One line per case that is not acceptable and not expected to fail, and per expected failure that passes
    now (so the expected list shrinks as the core is fixed), unless it is in `may_pass` (it fails only when the
    server's frames happen to arrive in one read)."""
    found = []
    for case, entry in sorted(ours.items(), key=lambda kv: tuple(int(p) for p in kv[0].split("."))):
        behavior = entry["behavior"]
        other = yardstick.get(case, {}).get("behavior")
        fine = acceptable(behavior, other)
        if case in expected and fine and case not in may_pass:
            found.append(f"{case}: {behavior} now (websocket-client {other}): remove it from EXPECTED_FAIL")
        elif case not in expected and not fine:
            found.append(f"{case}: {behavior}, close {entry.get('behaviorClose')} (websocket-client {other})")
    return found
