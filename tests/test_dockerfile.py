"""The image copies every project package the locustfile imports, directly or through users/ and scenarios/."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file()}


def project_imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names & PACKAGES


def test_every_package_the_locustfile_needs_is_copied() -> None:
    needed: set[str] = set()
    todo = [ROOT / "locustfile.py"]
    seen: set[Path] = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for package in project_imports(path):
            needed.add(package)
            todo.extend((ROOT / package).glob("*.py"))
    copied = set(re.findall(r"^COPY (\w+) \1$", (ROOT / "Dockerfile").read_text(), re.M))
    assert {"users", "scenarios", "analysis"} <= needed
    assert needed <= copied, f"the Dockerfile does not copy {sorted(needed - copied)}"
