"""The analysis package imports only pandas, matplotlib, the standard library, itself and run_files.py (the run's
files' names and columns, standard library only): never locust or gevent."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ANALYSIS = Path(__file__).resolve().parents[2] / "analysis"
ALLOWED = {"pandas", "matplotlib", "analysis", "run_files"}


def imported_modules(path: Path) -> set[str]:
    """Top-level names of every module imported anywhere in `path` (including inside functions)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}: use absolute imports (analysis.x)"
            names.add((node.module or "").split(".")[0])
    return names


def test_only_pandas_matplotlib_and_the_standard_library() -> None:
    files = sorted(ANALYSIS.glob("*.py"))
    assert len(files) >= 7
    for path in files:
        outside = {n for n in imported_modules(path) if n not in ALLOWED and n not in sys.stdlib_module_names}
        assert not outside, f"{path.name} imports {sorted(outside)}"


def test_importing_the_package_loads_neither_locust_nor_gevent_nor_pyplot() -> None:
    code = (
        "import sys, analysis.__main__, analysis.pipeline; "
        "print(sorted(m for m in ('locust', 'gevent', 'matplotlib.pyplot', 'numpy') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ANALYSIS.parent, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "['numpy']"  # numpy only because pandas uses it
