"""The shell commands the README and the docs pages show: every line of their ```sh blocks and inline `make ...`
code spans."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
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
    """Every command one Markdown file shows, in order of appearance (blocks first, then inline ones)."""
    text = path.read_text()
    return block_commands(text) + inline_make_commands(text)


def doc_pages() -> list[Path]:
    """README.md, then every Markdown page under docs/ in path order."""
    return [README, *sorted(DOCS.rglob("*.md"))]


def docs_commands() -> list[tuple[str, str]]:
    """(page, command) for every command the README and the docs pages show, each command once (where it first
    appears): a page repeating the README's command runs it once."""
    seen: set[str] = set()
    found: list[tuple[str, str]] = []
    for page in doc_pages():
        for command in readme_commands(page):
            if command not in seen:
                seen.add(command)
                found.append((str(page.relative_to(ROOT)), command))
    return found
