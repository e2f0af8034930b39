"""docs/protocol.md says what the code does: its ops, error codes, close codes, tools and field names are the
reference server's and the users' (read from their source and tables), and nothing more."""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path

from picows import WSCloseCode

from reference_server.faults import DEFAULT_DROP_CODE
from reference_server.tools import reference_tools
from users.wire.protocol import DEFAULT_DIALECT

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "protocol.md").read_text()
SERVER_SOURCES = sorted((ROOT / "reference_server").glob("*.py"))
#: Calls whose string argument is an error code the server sends: (function name, index of the code argument).
CODE_CALLS = {"error": 0, "tool_error": 1, "_refuse_hello": 0, "result_error": 1, "AuthError": 0, "ToolError": 0}


def _trees() -> list[ast.Module]:
    return [ast.parse(path.read_text(), str(path)) for path in SERVER_SOURCES]


def _called_name(node: ast.Call) -> str | None:
    func = node.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def server_error_codes() -> set[str]:
    """Every literal error code passed to the server's error builders (plus the `fail` tool's default)."""
    codes = set()
    for tree in _trees():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _called_name(node) in CODE_CALLS:
                index = CODE_CALLS[_called_name(node)]  # type: ignore[index]
                if len(node.args) > index and isinstance(node.args[index], ast.Constant) and node.args[index].value:
                    codes.add(node.args[index].value)
    return codes


def server_ops() -> tuple[set[str], set[str]]:
    """(ops the server sends: `{"op": X}` literals, ops it handles: `op == X` comparisons)."""
    sent, handled = set(), set()
    for tree in _trees():
        for node in ast.walk(tree):
            if isinstance(node, ast.Dict):
                for key, value in zip(node.keys, node.values, strict=True):
                    if isinstance(key, ast.Constant) and key.value == "op" and isinstance(value, ast.Constant):
                        sent.add(value.value)
            if isinstance(node, ast.Compare) and isinstance(node.ops[0], ast.Eq):
                left = node.left
                is_op = (isinstance(left, ast.Name) and left.id == "op") or (
                    isinstance(left, ast.Call) and _called_name(left) == "get" and left.args
                    and isinstance(left.args[0], ast.Constant) and left.args[0].value == "op"
                )  # fmt: skip
                right = node.comparators[0]
                if is_op and isinstance(right, ast.Constant) and isinstance(right.value, str):
                    handled.add(right.value)
    return sent, handled


def server_close_codes() -> set[int]:
    """Every close code the server sends on its own (1000 only stands in for codes a drop cannot send)."""
    used = set()
    for path in SERVER_SOURCES:
        used |= {int(getattr(WSCloseCode, name)) for name in re.findall(r"WSCloseCode\.([A-Z_]+)", path.read_text())}
    return (used - {1000}) | {DEFAULT_DROP_CODE}


def section(title: str) -> str:
    match = re.search(rf"^## {title}\n(.*?)(?=^## |\Z)", DOC, re.S | re.M)
    assert match, f"docs/protocol.md has no '## {title}' section"
    return match.group(1)


def first_column(text: str) -> list[str]:
    """The first cell of every table row of `text`, header and rule left out."""
    rows = [line.split("|")[1].strip() for line in text.splitlines() if line.startswith("| ")]
    return [cell for cell in rows if cell and not cell.startswith("---")][1:]


def test_every_error_code_the_server_sends_is_in_the_table_and_nothing_else() -> None:
    table = {code for cell in first_column(section("Error codes")) for code in re.findall(r"`([a-z_]+)`", cell)}
    assert server_error_codes() == table


def test_every_close_code_the_server_sends_is_documented_and_nothing_else() -> None:
    closes = section("Error codes").split("Closes without an error message:", 1)[1]
    assert {int(cell) for cell in first_column(closes)} == server_close_codes()


def test_every_op_is_in_the_doc_and_every_op_in_the_doc_is_the_codes() -> None:
    sent, handled = server_ops()
    client = {DEFAULT_DIALECT.hello, DEFAULT_DIALECT.call_tool, DEFAULT_DIALECT.hello_ok, DEFAULT_DIALECT.error}
    client |= {DEFAULT_DIALECT.tool_result, DEFAULT_DIALECT.event}
    documented = set(re.findall(r'"op": ?"([a-z_]+)"', DOC))
    assert sent and handled
    assert sent | handled | client == documented


def test_the_users_default_field_names_are_the_docs() -> None:
    for field in dataclasses.fields(DEFAULT_DIALECT):
        assert f'"{getattr(DEFAULT_DIALECT, field.name)}"' in DOC, field.name


def test_the_reference_tools_are_the_table() -> None:
    documented = [cell.strip("`") for cell in first_column(section("Reference tools"))]
    assert documented == list(reference_tools())


def test_the_readme_links_the_protocol_inside_the_repository() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "docs/protocol.md" in readme
    assert "../shared/" not in readme
