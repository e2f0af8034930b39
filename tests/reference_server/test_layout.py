"""The reference server stays in small pieces: no class over 300 lines, no function over 80 (AST, no imports)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "reference_server"
MAX_CLASS_LINES = 300
MAX_FUNCTION_LINES = 80


def sizes() -> list[tuple[str, str, int]]:
    """(kind, file:name, lines) for every class and function of the package."""
    found = []
    for path in sorted(PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                kind = "class" if isinstance(node, ast.ClassDef) else "function"
                assert node.end_lineno is not None
                found.append((kind, f"{path.name}:{node.name}", node.end_lineno - node.lineno + 1))
    return found


def test_the_package_is_found() -> None:
    names = {name for _, name, _ in sizes()}
    assert "session.py:Session" in names and "options.py:parse_config" in names


@pytest.mark.parametrize(("kind", "limit"), [("class", MAX_CLASS_LINES), ("function", MAX_FUNCTION_LINES)])
def test_no_piece_is_too_long(kind: str, limit: int) -> None:
    too_long = [(name, lines) for k, name, lines in sizes() if k == kind and lines > limit]
    assert not too_long, too_long
