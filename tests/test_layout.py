"""Every package stays in small pieces: no module over 500 lines, no class over 300, no function over 80 (AST)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("users", "scenarios", "analysis", "reference_server", "probe")
MAX_CLASS_LINES = 300
MAX_FUNCTION_LINES = 80
MAX_MODULE_LINES = 500


def sizes() -> list[tuple[str, str, int]]:
    """(kind, path:name, lines) for every class and function of the packages."""
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                    kind = "class" if isinstance(node, ast.ClassDef) else "function"
                    assert node.end_lineno is not None
                    name = f"{path.relative_to(ROOT)}:{node.name}"
                    found.append((kind, name, node.end_lineno - node.lineno + 1))
    return found


def test_every_package_is_found() -> None:
    names = {name for _, name, _ in sizes()}
    for expected in ("reference_server/session.py:Session", "users/wire/core.py:ClientCore", "users/base.py:ToolCallUser",
                     "scenarios/shape.py:ScenarioShape", "analysis/accounting.py:Ledger"):  # fmt: skip
        assert expected in names, expected


@pytest.mark.parametrize(("kind", "limit"), [("class", MAX_CLASS_LINES), ("function", MAX_FUNCTION_LINES)])
def test_no_piece_is_too_long(kind: str, limit: int) -> None:
    too_long = [(name, lines) for k, name, lines in sizes() if k == kind and lines > limit]
    assert not too_long, too_long


def test_no_module_is_too_long() -> None:
    modules = [path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))]
    assert len(modules) > 100
    too_long = [
        (str(p.relative_to(ROOT)), n) for p in modules if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    ]
    assert not too_long, too_long
