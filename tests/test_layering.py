"""The layers as tests (issue 21, item 6), from the source by AST, nothing imported.

users/ and scenarios/ never import each other (locustfile.py joins them); analysis/ imports neither; run_files.py
imports nothing of ours; and only users/integration/ reads Locust's runner and web UI internals (beyond the private
names tests/users/integration/test_boundary.py already keeps there), but for the exceptions listed with a reason.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROJECT = {"users", "scenarios", "analysis", "reference_server", "option_table", "run_files", "probe", "bench"}

FORBIDDEN = {
    "users": {"scenarios"},
    "scenarios": {"users"},
    "analysis": {"users", "scenarios"},
    "run_files": PROJECT - {"run_files"},
}
"""Package (or root module) -> the project's packages it must not import."""

INTERNALS = frozenset({
    "shape_greenlet", "clients", "user_classes_count", "update_template_args", "template_args", "template_folder",
    "jinja_env", "spawning_greenlet", "worker_index", "user_greenlets",
})  # fmt: skip
"""Attributes of Locust's runner, its worker clients and its web UI that are not its documented API; named so
only there, they count wherever they are read."""
HOLDERS = frozenset({"runner", "environment", "env", "web_ui", "app"})
"""Names Locust's objects go by in this project: a private `_name` read through one of them is a touch of Locust."""

KNOWN_EXCEPTIONS: dict[tuple[str, str], str] = {}
"""(file, attribute) -> why this touch of Locust stays outside users/integration/."""


def imports(tree: ast.AST) -> set[str]:
    """Top-level names of every module imported anywhere in `tree` (functions included)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def chain(node: ast.expr) -> list[str]:
    """The names along an attribute chain: `self.runner.clients.all` -> [self, runner, clients, all]."""
    names: list[str] = []
    while isinstance(node, ast.Attribute):
        names.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        names.append(node.id)
    return names[::-1]


def internal_reads(tree: ast.AST) -> set[str]:
    """Attributes of Locust's objects read or written in `tree` that are not its API: INTERNALS anywhere, private
    names reached through a name in HOLDERS, and private names imported from locust modules."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "locust":
            found |= {a.name for a in node.names if a.name.startswith("_")}
        if not isinstance(node, ast.Attribute):
            continue
        private = node.attr.startswith("_") and not node.attr.startswith("__")
        if node.attr in INTERNALS or (private and HOLDERS & set(chain(node.value))):
            found.add(node.attr)
    return found


def layer_of(path: Path) -> str:
    return path.relative_to(ROOT).parts[0].removesuffix(".py")


def sources() -> list[Path]:
    paths = [ROOT / "locustfile.py", ROOT / "run_files.py", ROOT / "option_table.py"]
    return paths + [p for d in ("users", "scenarios", "analysis") for p in sorted((ROOT / d).rglob("*.py"))]


def test_users_scenarios_and_analysis_keep_their_layers() -> None:
    broken = []
    checked = 0
    for path in sources():
        forbidden = FORBIDDEN.get(layer_of(path), set())
        checked += bool(forbidden)
        broken += [
            f"{path.relative_to(ROOT)} imports {name}" for name in imports(ast.parse(path.read_text())) & forbidden
        ]
    assert checked > 80
    assert broken == []


def test_only_users_integration_reads_locust_internals() -> None:
    found = set()
    for path in sources():
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith("users/integration/"):
            continue
        found |= {(relative, name) for name in internal_reads(ast.parse(path.read_text()))}
    assert found - set(KNOWN_EXCEPTIONS) == set()
    assert set(KNOWN_EXCEPTIONS) - found == set(), "an exception that no longer happens: take it off the list"


def test_the_integration_package_is_where_they_went() -> None:
    integration = ROOT / "users" / "integration"
    reads = {p.name: internal_reads(ast.parse(p.read_text())) for p in integration.glob("*.py")}
    assert {"clients", "user_classes_count"} <= reads["workers.py"]
    assert {"update_template_args", "template_args", "template_folder", "jinja_env"} <= reads["web_ui.py"]


def test_the_checks_see_what_they_forbid() -> None:
    assert imports(ast.parse("def f():\n    from scenarios.options import plan_for")) == {"scenarios"}
    assert imports(ast.parse("import users.base as b")) == {"users"}
    touches = "x = self.runner.clients.all\nenvironment.web_ui.update_template_args()\nrunner._state = 1"
    assert internal_reads(ast.parse(touches)) == {"clients", "update_template_args", "_state"}
    assert internal_reads(ast.parse("from locust.runners import _private, MasterRunner")) == {"_private"}
    assert internal_reads(ast.parse("self._clients = {}\nclient._sock\nrunner.send_message('x', 1)")) == set()


def test_the_locustfile_hands_the_plan_check_to_the_users() -> None:
    tree = ast.parse((ROOT / "locustfile.py").read_text())
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and ast.unparse(n.func) == "register_reporting"]
    assert [ast.unparse(k.value) for c in calls for k in c.keywords if k.arg == "plan_check"] == ["plan_for"]


USERS_PACKAGES = ("integration", "wire", "engine", "load", "telemetry", "web")
"""users/'s packages, lowest first: each imports only those before it (users/__init__.py says what each holds);
users/base.py and users/reporting.py, which join them, sit above all."""


def users_imports(tree: ast.AST) -> set[str]:
    """The users/ packages (or top modules) `tree` imports: `users.wire.core` -> wire."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules = [node.module] + ([f"users.{a.name}" for a in node.names] if node.module == "users" else [])
        else:
            continue
        found |= {m.split(".")[1] for m in modules if m.startswith("users.")}
    return found


def test_each_users_package_imports_only_the_packages_below_it() -> None:
    rank = {name: i for i, name in enumerate(USERS_PACKAGES)}
    upward = []
    for package in USERS_PACKAGES:
        for path in sorted((ROOT / "users" / package).rglob("*.py")):
            for name in users_imports(ast.parse(path.read_text())):
                if rank.get(name, len(USERS_PACKAGES)) > rank[package]:
                    upward.append(f"{path.relative_to(ROOT)} imports users.{name}")
    assert upward == []


def test_users_has_its_packages_and_two_joining_modules_on_top() -> None:
    top = {p.name for p in (ROOT / "users").iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()}
    assert top == {"__init__.py", "base.py", "reporting.py", *USERS_PACKAGES}
    assert users_imports(ast.parse("from users.engine.client import ToolClient\nfrom users import integration")) == {
        "engine",
        "integration",
    }


def hub_watchers(tree: ast.AST) -> set[str]:
    """The kinds of hub watchers `tree` makes: `loop.timer(...)` and `loop.io(...)` calls (any name for the loop)."""
    return {
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("timer", "io")
        and "loop" in chain(node.func.value)
    }


def test_hub_timers_and_io_watchers_are_made_in_two_modules_of_users() -> None:
    makers = {
        path.relative_to(ROOT).as_posix(): kinds
        for path in sorted((ROOT / "users").rglob("*.py"))
        if (kinds := hub_watchers(ast.parse(path.read_text())))
    }
    assert makers == {"users/engine/hub.py": {"timer"}, "users/engine/sockets.py": {"io"}}
    assert hub_watchers(ast.parse("get_hub().loop.timer(1, 1)\nhub.loop.io(3, 1)\nself.io(1)")) == {"timer", "io"}


PARSED_OPTIONS_READERS = ("users/load/config.py", "users/integration/")
"""Issue 21, item 1: the RunConfig builder and the Locust integration are the only readers of Locust's parsed options
in users/; everything else takes the RunConfig. scenarios/ reads them through scenarios/options.py only."""


def parsed_options_reads(tree: ast.AST) -> int:
    """Reads of an attribute named `parsed_options`, or getattr(..., "parsed_options"), in `tree`."""
    attributes = sum(isinstance(n, ast.Attribute) and n.attr == "parsed_options" for n in ast.walk(tree))
    getattrs = sum(
        isinstance(n, ast.Call)
        and ast.unparse(n.func) == "getattr"
        and any(isinstance(a, ast.Constant) and a.value == "parsed_options" for a in n.args)
        for n in ast.walk(tree)
    )
    return attributes + getattrs


def test_only_the_config_builder_and_the_integration_read_parsed_options() -> None:
    readers = {
        path.relative_to(ROOT).as_posix()
        for path in sorted([*(ROOT / "users").rglob("*.py"), *(ROOT / "scenarios").rglob("*.py")])
        if parsed_options_reads(ast.parse(path.read_text()))
    }
    assert {"users/load/config.py", "scenarios/options.py"} <= readers
    assert {r for r in readers if not r.startswith((*PARSED_OPTIONS_READERS, "scenarios/options.py"))} == set()
    assert (
        parsed_options_reads(ast.parse("x = getattr(environment, 'parsed_options', None).a\nenv.parsed_options")) == 2
    )
