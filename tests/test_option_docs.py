"""docs/reference/options.md says what the option tables declare: it is what `python -m docs_gen` renders from the
rows, and (read back) every option is in it with its env var and its default."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from docs_gen.options_page import OPTIONS_PAGE, render_options_page
from option_table import Option
from reference_server.options import OPTIONS as SERVER_OPTIONS
from scenarios.options import OPTIONS as SCENARIO_OPTIONS
from users.load.options import OPTIONS as USER_OPTIONS

ROOT = Path(__file__).resolve().parents[1]
DECLARED = {option.flag: option for option in (*USER_OPTIONS, *SCENARIO_OPTIONS)}


def page_rows() -> list[tuple[list[str], str, str]]:
    """(flags, env var cell, default cell) of every table row of the options page about LOCUST_* options."""
    rows = []
    for line in OPTIONS_PAGE.read_text().splitlines():
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


def test_the_options_page_is_what_the_rows_render() -> None:
    assert OPTIONS_PAGE.read_text() == render_options_page(), "run: .venv/bin/python -m docs_gen"


def test_the_options_page_has_option_tables() -> None:
    assert len(page_rows()) >= 30


def test_every_reference_server_option_is_on_the_page() -> None:
    text = OPTIONS_PAGE.read_text()
    for option in SERVER_OPTIONS:
        assert f"| `{option.flag}` |" in text, option.flag


@pytest.mark.parametrize("flag", sorted(DECLARED))
def test_every_declared_option_is_in_a_table_with_its_env_var(flag: str) -> None:
    rows = [(flags, env) for flags, env, _ in page_rows() if flag in flags]
    assert rows, f"{flag} is in no table of {OPTIONS_PAGE}"
    assert any(env_matches(DECLARED[flag], env) for _, env in rows), rows


def test_every_row_is_a_declared_option_with_its_default() -> None:
    for flags, _, default in page_rows():
        for flag in flags:
            assert flag in DECLARED, f"the options page documents {flag}, which no option table declares"
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


def test_the_web_form_column_says_where_the_form_shows_an_option() -> None:
    text = OPTIONS_PAGE.read_text()
    assert "| Load: In flight |" in text and "| Scenario: Burst users (folded) |" in text
    row = next(line for line in text.splitlines() if line.startswith("| `--jwt-secret` |"))
    assert row.endswith("| – |")
