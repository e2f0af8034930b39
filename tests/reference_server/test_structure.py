"""The reference server stays composed, not stacked: class inheritance depth and module sizes, read by AST."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "reference_server"
#: At most this many of the project's own classes above any reference-server class.
MAX_DEPTH = 3
MAX_MODULE_LINES = 500


def class_bases(sources: dict[str, str]) -> dict[str, set[str]]:
    """Class name -> the names of its bases, over every module (same-named classes merged: the deeper counts)."""
    bases: dict[str, set[str]] = {}
    for name, text in sources.items():
        for node in ast.walk(ast.parse(text, name)):
            if isinstance(node, ast.ClassDef):
                found = bases.setdefault(node.name, set())
                for base in node.bases:
                    if isinstance(base, ast.Name):
                        found.add(base.id)
                    elif isinstance(base, ast.Attribute):
                        found.add(base.attr)
    return bases


def depths(sources: dict[str, str]) -> dict[str, int]:
    """Class name -> how many of these sources' classes it derives through (0: only outside bases)."""
    bases = class_bases(sources)
    memo: dict[str, int] = {}

    def depth(name: str, seen: frozenset[str]) -> int:
        if name not in memo:
            own = [b for b in bases[name] if b in bases and b not in seen]
            memo[name] = max((1 + depth(b, seen | {b}) for b in own), default=0)
        return memo[name]

    return {name: depth(name, frozenset({name})) for name in bases}


def package_sources() -> dict[str, str]:
    return {path.name: path.read_text() for path in sorted(PACKAGE.glob("*.py"))}


def test_no_class_derives_through_more_than_three_of_our_classes() -> None:
    too_deep = {name: d for name, d in depths(package_sources()).items() if d > MAX_DEPTH}
    assert not too_deep, too_deep


def test_the_depth_check_sees_a_chain_across_modules() -> None:
    chain = {
        "a.py": "from picows import WSListener\nclass A(WSListener): pass\n",
        "b.py": "from .a import A\nclass B(A): pass\nclass C(B): pass\n",
        "c.py": "from . import b\nclass D(b.C): pass\nclass E(D): pass\n",
    }
    assert depths(chain) == {"A": 0, "B": 1, "C": 2, "D": 3, "E": 4}


def test_no_module_is_over_500_lines() -> None:
    sizes = {name: text.count("\n") for name, text in package_sources().items()}
    assert sizes and not {name: n for name, n in sizes.items() if n > MAX_MODULE_LINES}, sizes


def test_only_the_shell_makes_timers() -> None:
    """The codecs, the session machine and its tool work never touch the loop: the port does."""
    for name in ("codec.py", "toolcall.py", "jsonrpc.py", "mcp.py", "session.py", "work.py", "backpressure.py"):
        text = (PACKAGE / name).read_text()
        for loop_call in ("call_later", "call_soon", "call_at", "create_task", ".loop"):
            assert loop_call not in text, (name, loop_call)


def test_the_server_options_are_option_table_rows() -> None:
    """One row machinery for every option of the project: the server's rows are option_table.Option rows."""
    import option_table
    from reference_server.option_rows import OPTIONS

    assert OPTIONS and all(isinstance(row, option_table.Option) for row in OPTIONS)
    assert "Option" not in class_bases(package_sources()), "a second Option class in reference_server/"
