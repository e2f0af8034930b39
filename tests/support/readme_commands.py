"""The shell commands README.md shows: every line of its ```sh blocks and inline `make ...` code spans."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.S | re.M)
_INLINE_MAKE = re.compile(r"`(make [^`]+)`")


def block_commands(text: str) -> list[str]:
    """Commands of the ```sh blocks: continuation lines joined, comment-only and blank lines dropped."""
    commands: list[str] = []
    for block in _BLOCK.findall(text):
        pending = ""
        for line in block.splitlines():
            if pending:
                line = pending + " " + line.strip()
                pending = ""
            if line.rstrip().endswith("\\"):
                pending = line.rstrip()[:-1].rstrip()
                continue
            if line.strip() and not line.lstrip().startswith("#"):
                commands.append(line.strip())
    return commands


def inline_make_commands(text: str) -> list[str]:
    """`make ...` commands written inline in the prose (e.g. a DEMO_ARGS example)."""
    outside_blocks = _BLOCK.sub("", text)
    return [m for m in _INLINE_MAKE.findall(outside_blocks) if " " in m and "DEMO_ARGS=" in m]


def readme_commands(path: Path = README) -> list[str]:
    """Every command the README shows, in order of appearance (blocks first, then inline ones)."""
    text = path.read_text()
    return block_commands(text) + inline_make_commands(text)
