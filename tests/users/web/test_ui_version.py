"""The locust-ui version the web UI build uses: the one package.json and its lock file pin, matching the pinned
Locust's minor version or explained in docs/web-ui.md as the newest published when checked."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
UI = ROOT / "users" / "web" / "ui"
STAYS = re.compile(
    r"locust-ui stays at (?P<ours>[\d.]+) while Locust is pinned at (?P<locust>\d+\.\d+): on (?P<date>\d{4}-\d\d-\d\d) "
    r"`npm view locust-ui versions` listed\s+(?P<newest>[\d.]+) as the newest published version and none for Locust "
    r"(?P<again>\d+\.\d+)"
)
"""docs/web-ui.md's sentence on why the build does not match the pinned Locust (whitespace as one space)."""


def minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def pinned_locust() -> str:
    found = re.search(r"^locust==([\d.]+)$", (ROOT / "requirements.txt").read_text(), re.MULTILINE)
    assert found is not None
    return found.group(1)


def locust_ui_version() -> str:
    declared = json.loads((UI / "package.json").read_text())["dependencies"]["locust-ui"]
    locked = json.loads((UI / "package-lock.json").read_text())["packages"]["node_modules/locust-ui"]["version"]
    assert declared == locked, "package.json and package-lock.json disagree: npm install && npm run build"
    return declared


def test_the_build_matches_the_pinned_locust_or_the_docs_say_why_not() -> None:
    ours, locust = locust_ui_version(), pinned_locust()
    if minor(ours) == minor(locust):
        return
    docs = " ".join((ROOT / "docs" / "web-ui.md").read_text().split())
    stays = STAYS.search(docs)
    assert stays is not None, "docs/web-ui.md must say why locust-ui does not match the pinned Locust"
    assert stays["ours"] == stays["newest"] == ours  # the build is the newest published when it was checked
    assert stays["locust"] == stays["again"] == minor(locust)  # re-check npm when Locust's pin moves


def test_the_sentence_is_read_as_written() -> None:
    sentence = (
        "locust-ui stays at 2.43.4 while Locust is pinned at 2.47: on 2026-12-06 `npm view locust-ui versions` "
        "listed 2.43.4 as the newest published version and none for Locust 2.47 (Locust ships ...)"
    )
    stays = STAYS.search(sentence)
    assert stays is not None and (stays["ours"], stays["locust"], stays["date"]) == ("2.43.4", "2.47", "2026-12-06")
    assert STAYS.search(sentence.replace("newest published", "newest")) is None
