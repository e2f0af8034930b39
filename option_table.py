"""Options declared once: one row per option, from which argparse, env vars, defaults, checks and docs come.

Pure (standard library only): users/ and scenarios/ each keep one table of Option rows; `add_options` puts
them on Locust's parser, `defaults` and `first_problem` read them, and `python -m docs_gen`
renders docs/reference/options.md from them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from run_files import LOCUST_CSV_SUFFIXES, run_file

Check = Callable[[Any], str | None]
"""A value's problem as the end of a sentence ("must be at least 1, got 0"), or None when it can work."""


@dataclass(frozen=True)
class Option:
    """One command-line option: flag, default, help; its env var is LOCUST_ + the flag's name."""

    flag: str
    default: Any
    help: str
    type: Callable[[str], Any] | None = None
    choices: tuple[str, ...] | None = None
    action: Any = None
    """"store_true", or an argparse.Action class."""
    check: Check | None = None
    group: str = "Advanced"
    """The web UI start form's section (users/web/web_form.py: Load, Protocol, Scenario, Thresholds, Advanced)."""
    order: int = 1000
    """Place within its section (lower first; rows left at 1000 come after, in table order)."""
    label: str = ""
    """The form field's short label (empty: from the flag)."""
    hint: str = ""
    """The short help under the form field (empty: the help)."""
    visibility: str = "form"
    """"form" (shown), "folded" (shown under Stage settings), "cli" (not in the form: command line, locust.conf
    and env var only) or "never" (not even in Locust's page: credentials, whose values Locust would put there,
    and headless-only options)."""

    @property
    def web_ui(self) -> bool:
        """Whether Locust's web UI page gets it at all."""
        return self.visibility != "never"

    @property
    def in_form(self) -> bool:
        """Whether our start form shows it."""
        return self.visibility in ("form", "folded")

    @property
    def dest(self) -> str:
        """The attribute name on the parsed options."""
        return self.flag.lstrip("-").replace("-", "_")

    @property
    def env_var(self) -> str:
        """The environment variable that sets it."""
        return "LOCUST_" + self.dest.upper()

    def shown_default(self) -> str:
        """The default as the options page (docs/reference/options.md) shows it."""
        if self.action == "store_true":
            return "off"
        if self.default in (None, ""):
            return "–"
        return f"{self.default:g}" if isinstance(self.default, float) else str(self.default)


_ROWS: dict[str, Option] = {}


def register(table: tuple[Option, ...]) -> tuple[Option, ...]:
    """`table`, its rows recorded for `registered` (the web form lays itself out from them)."""
    for option in table:
        _ROWS[option.dest] = option
    return table


def registered() -> dict[str, Option]:
    """{dest: row} of every table registered in this process (users/ and scenarios/ register theirs)."""
    return dict(_ROWS)


def add_options(parser: Any, table: Iterable[Option]) -> None:
    """Register every option of `table` on Locust's (configargparse) parser."""
    for option in table:
        kwargs: dict[str, Any] = {"env_var": option.env_var, "default": option.default, "help": option.help}
        for name in ("type", "choices", "action"):
            if getattr(option, name) is not None:
                kwargs[name] = getattr(option, name)
        if not option.web_ui:
            kwargs["include_in_web_ui"] = False
        parser.add_argument(option.flag, **kwargs)


def defaults(table: Iterable[Option]) -> dict[str, Any]:
    """{dest: default} of every option of `table`."""
    return {option.dest: option.default for option in table}


def first_problem(table: Sequence[Option], values: Any) -> str | None:
    """The first option of `table` whose value in `values` (parsed options) cannot work, as one sentence."""
    for option in table:
        if option.check is not None and hasattr(values, option.dest):
            problem = option.check(getattr(values, option.dest))
            if problem:
                return f"{option.flag} {problem}"
    return None


def at_least(low: float) -> Check:
    """The value must be `low` or more."""
    return lambda value: None if value >= low else f"must be at least {low:g}, got {value}"


def between(low: float, high: float) -> Check:
    """The value must be within [low, high]."""
    return lambda value: None if low <= value <= high else f"must be between {low:g} and {high:g}, got {value:g}"


def seconds(value: Any) -> str | None:
    """A positive number of seconds."""
    return None if value > 0 else f"must be a positive number of seconds, got {value}"


def seconds_or_zero(value: Any) -> str | None:
    """Zero or a positive number of seconds."""
    return None if float(value or 0) >= 0 else f"must be 0 or more seconds, got {value}"


def port_or_empty(value: Any) -> str | None:
    """Empty (off) or a TCP port."""
    text = str(value if value is not None else "").strip()
    if not text or (text.isdigit() and 0 < int(text) < 65536):
        return None
    return f"must be a TCP port (1-65535) or empty, got {text!r}"


BAD_OPTION_EXIT_CODE = 2


def remove_empty_csv_files(prefix: str | None) -> None:
    """Remove the still-empty files Locust opened at `prefix`: a run that ends before any load leaves none."""
    if not prefix:
        return
    for suffix in LOCUST_CSV_SUFFIXES:
        path = run_file(prefix, suffix)
        try:
            if path.stat().st_size == 0:
                path.unlink()
        except OSError:
            continue


def exit_bad_option(problem: object, csv_prefix: str | None = None) -> NoReturn:
    """The one way a bad option ends Locust before any load: one `error:` line on stderr, exit code 2, and no empty
    CSV files left at `csv_prefix`."""
    remove_empty_csv_files(csv_prefix)
    sys.stderr.write(f"error: {problem}\n")
    sys.exit(BAD_OPTION_EXIT_CODE)
