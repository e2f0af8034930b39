"""The README's option tables say what the option tables declare: every option, its env var and its default."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from option_table import Option
from scenarios.options import OPTIONS as SCENARIO_OPTIONS
from users.options import OPTIONS as USER_OPTIONS

ROOT = Path(__file__).resolve().parents[1]
DECLARED = {option.flag: option for option in (*USER_OPTIONS, *SCENARIO_OPTIONS)}


def readme_rows() -> list[tuple[list[str], str, str]]:
    """(flags, env var cell, default cell) of every README table row about LOCUST_* options."""
    rows = []
    for line in (ROOT / "README.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and "LOCUST_" in cells[1] and cells[0].startswith("`--"):
            rows.append((re.findall(r"`(--[a-z0-9-]+)`", cells[0]), cells[1], cells[2].strip("`")))
    return rows


def env_matches(option: Option, cell: str) -> bool:
    """The cell names the option's env var, or a LOCUST_X_* pattern covering it."""
    for name in re.findall(r"`(LOCUST_[A-Z0-9_*]+)`", cell):
        if name == option.env_var or (name.endswith("*") and option.env_var.startswith(name[:-1])):
            return True
    return False


def test_the_readme_has_option_tables() -> None:
    assert len(readme_rows()) >= 30


@pytest.mark.parametrize("flag", sorted(DECLARED))
def test_every_declared_option_is_in_a_readme_table_with_its_env_var(flag: str) -> None:
    rows = [(flags, env) for flags, env, _ in readme_rows() if flag in flags]
    assert rows, f"{flag} is in no README option table"
    assert any(env_matches(DECLARED[flag], env) for _, env in rows), rows


def test_every_readme_row_is_a_declared_option_with_its_default() -> None:
    for flags, _, default in readme_rows():
        for flag in flags:
            assert flag in DECLARED, f"the README documents {flag}, which no option table declares"
        if len(flags) == 1:
            option = DECLARED[flags[0]]
            shown = {option.shown_default(), "empty" if option.shown_default() == "–" else option.shown_default()}
            said = re.search(r"\(default: ([^)]+)\)", option.help)
            if said:
                shown.add(said.group(1))
            assert default in shown, (flags[0], default, shown)


def test_a_bad_option_is_one_error_line_and_exit_code_2(capsys: pytest.CaptureFixture[str]) -> None:
    from option_table import exit_bad_option

    with pytest.raises(SystemExit) as exited:
        exit_bad_option("--in-flight must be at least 1, got 0")
    assert exited.value.code == 2
    assert capsys.readouterr().err == "error: --in-flight must be at least 1, got 0\n"
