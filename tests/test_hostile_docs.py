"""docs/hostile-servers.md names every way the client can end a connection (each `how` lost calls carry)."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "hostile-servers.md"
ENDERS = {"fail", "_finish", "receive_eof", "_end", "_on_end", "drop"}
"""Methods whose first argument is the `how` of a connection's end (users/wire/core.py, client.py, sockets.py)."""


def literal_hows() -> set[str]:
    """The `how` of every call that ends a connection with a literal, a module constant or an f-string (its
    fixed start); `how` passed on from a variable is found where that variable is made."""
    found = set()
    for path in sorted((ROOT / "users").rglob("*.py")):
        module = importlib.import_module(".".join(path.relative_to(ROOT).with_suffix("").parts))
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args):
                continue
            if node.func.attr not in ENDERS:
                continue
            how = node.args[0]
            if isinstance(how, ast.Constant) and isinstance(how.value, str):
                found.add(how.value)
            elif isinstance(how, ast.Name) and how.id.isupper():
                found.add(getattr(module, how.id))
            elif isinstance(how, ast.JoinedStr) and isinstance(how.values[0], ast.Constant):
                found.add(str(how.values[0].value).strip(": "))
            elif isinstance(how, ast.IfExp):
                for branch in (how.body, how.orelse):
                    if isinstance(branch, ast.Name):
                        found.add(getattr(module, branch.id))
                    elif isinstance(branch, ast.JoinedStr) and isinstance(branch.values[0], ast.Constant):
                        found.add(str(branch.values[0].value).strip())
    return found


def test_the_scan_finds_the_known_ends() -> None:
    assert {"ping_timeout", "write_timeout", "write_stalled", "bad_request_ids", "eof", "storm", "write failed",
            "framing error", "closed by client", "reader failed"} <= literal_hows()  # fmt: skip


def test_every_end_of_a_connection_is_in_the_lost_connections_table() -> None:
    table = DOC.read_text().split("## Lost connections", 1)[1]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    missing = [how for how in sorted(literal_hows()) if not any(f"`{how}" in row.split("|")[1] for row in rows)]
    assert not missing, f"docs/hostile-servers.md does not name: {missing}"
    for how in ("reset", "close <code> <reason>"):  # made by how_it_ended and the close frame's parse
        assert any(f"`{how}" in row for row in rows), how
