"""The image copies every project package the locustfile imports, directly or through users/ and scenarios/."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file()}
MODULES = {p.stem for p in ROOT.glob("*.py")} - {"locustfile", "demo"}


def project_imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names & (PACKAGES | MODULES)


def test_every_package_the_locustfile_needs_is_copied() -> None:
    needed: set[str] = set()
    todo = [ROOT / "locustfile.py"]
    seen: set[Path] = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in project_imports(path):
            needed.add(name)
            todo.extend((ROOT / name).glob("*.py") if name in PACKAGES else [ROOT / f"{name}.py"])
    dockerfile = (ROOT / "Dockerfile").read_text()
    copied = set(re.findall(r"^COPY (\w+) \1$", dockerfile, re.M))
    copied |= {Path(f).stem for line in re.findall(r"^COPY (.+) \./$", dockerfile, re.M) for f in line.split()}
    assert {"users", "scenarios", "analysis", "option_table"} <= needed
    assert needed <= copied, f"the Dockerfile does not copy {sorted(needed - copied)}"
