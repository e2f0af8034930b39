"""Locust's internals are touched only in users/integration: nowhere else assigns to Locust or reads its privates."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
OUTSIDE = [ROOT / "locustfile.py", *sorted((ROOT / "users").rglob("*.py")), *sorted((ROOT / "scenarios").rglob("*.py"))]


def locust_names(tree: ast.Module) -> set[str]:
    """Names a module binds to Locust modules or objects."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names if a.name.startswith("locust")}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("locust"):
            names |= {a.asname or a.name for a in node.names}
    return names


def root_name(node: ast.expr) -> str | None:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def touches(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    names = locust_names(tree)
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and root_name(node) in names:
            private = node.attr.startswith("_") and not node.attr.startswith("__")
            stored = isinstance(node.ctx, ast.Store)
            if private or stored:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {ast.unparse(node)}")
        if isinstance(node, ast.Attribute) and node.attr == "_handlers":
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} {ast.unparse(node)}")
    return found


def test_only_the_integration_package_touches_locust_internals() -> None:
    outside = [p for p in OUTSIDE if "integration" not in p.relative_to(ROOT).parts]
    assert len(outside) > 20
    assert [t for p in outside for t in touches(p)] == []


def test_the_integration_package_is_six_files() -> None:
    assert sorted(p.name for p in (ROOT / "users" / "integration").glob("*.py")) == [
        "__init__.py",
        "csv_rows.py",
        "stats_path.py",
        "task_queue.py",
        "web_ui.py",
        "workers.py",
    ]
    assert touches(ROOT / "users" / "integration" / "stats_path.py")  # the checker does see real touches
