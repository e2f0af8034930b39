"""docs/explanation/architecture.md's `--rate` route holds: every `name` (file:line) it gives is at that line, the
route from the option to the socket is at most four files, and no file on it imports one before it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "explanation" / "architecture.md"
REF = re.compile(r"`([^`]+)`\s+\(([\w./]+\.py):(\d+)\)")
ROUTE_START = "`--rate`: four files"
ROUTE_END = "Wired once at start"


def refs(text: str) -> list[tuple[str, str, int]]:
    """(name, file, line) of every "`name` (file:line)" in `text`."""
    return [(name, path, int(line)) for name, path, line in REF.findall(text)]


def route_text() -> str:
    text = DOC.read_text()
    start = text.index(ROUTE_START)
    return text[start : text.index(ROUTE_END, start)]


def module_of(path: str) -> str:
    return path.removesuffix(".py").replace("/", ".")


def imported(path: str) -> set[str]:
    """Every module `path` imports (from-imports by their module)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse((ROOT / path).read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_every_file_line_the_page_gives_is_the_name_it_says() -> None:
    text = DOC.read_text()
    found = refs(text[text.index(ROUTE_START) :])
    assert len(found) >= 8
    wrong = []
    for name, path, line in found:
        lines = (ROOT / path).read_text().splitlines()
        at = lines[line - 1] if line <= len(lines) else ""
        if name.split(".")[-1] not in at:
            wrong.append(f"{path}:{line} is {at.strip()!r}, not {name}")
    assert not wrong, "update docs/explanation/architecture.md: " + "; ".join(wrong)


def test_the_rate_route_is_four_files_each_calling_down() -> None:
    files = list(dict.fromkeys(path for _, path, _ in refs(route_text())))
    assert files == [
        "scenarios/options.py",
        "scenarios/profile.py",
        "users/engine/pacer.py",
        "users/engine/connection.py",
    ]
    for index, path in enumerate(files):
        back_up = imported(path) & {module_of(before) for before in files[:index]}
        assert not back_up, f"{path} imports {back_up}: a call back up the route"
