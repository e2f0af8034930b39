"""Our build of Locust's web UI and our start form, put into Locust's WebUI through its template internals.

Locust documents `web_ui.app` (a Flask app) for extra routes, not how its page is rendered: the template folder,
the JSON policy and `update_template_args`/`template_args` are read and replaced here only. Nor does it expose how
POST /swarm turns the form's values into its parsed options (inline in its route): `swarm_options` mirrors that,
on the Locust versions the tests prove only.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from locust.util.timespan import parse_timespan

from users.integration import tested

if TYPE_CHECKING:
    from locust.web import WebUI

ExtraOptions = dict[str, Any]
"""The page's `extra_options` template argument: option name -> what the form shows for it."""


def serve_build(web_ui: WebUI, build_path: Path) -> None:
    """Serve our build's index.html (when it is built) and keep the form's options in our order in its JSON."""
    if (build_path / "index.html").exists():
        web_ui.app.template_folder = str(build_path)
    web_ui.app.jinja_env.policies["json.dumps_kwargs"] = {"sort_keys": False}


def rewrite_extra_options(web_ui: WebUI, rewrite: Callable[[ExtraOptions], ExtraOptions]) -> None:
    """After each of Locust's updates of the page's template arguments, their `extra_options` (as Locust makes
    them) replaced by `rewrite(them)`; once now as well."""
    update = web_ui.update_template_args

    def updated() -> None:
        update()
        web_ui.template_args["extra_options"] = rewrite(web_ui.template_args.get("extra_options") or {})

    web_ui.update_template_args = updated  # type: ignore[method-assign]
    updated()


class FormValueError(ValueError):
    """A start form value Locust's /swarm cannot convert to its option's type; the message names the field."""


def swarm_options(options: argparse.Namespace, form: Mapping[str, str]) -> argparse.Namespace | None:
    """`options` with the start form's values applied as POST /swarm of Locust 2.47 applies them (a copy): the
    options the run will start with. None on a Locust version the tests do not prove (`tested()`), whose /swarm
    may convert differently: the form is then not checked before the run, and the users' own check at start has
    the last word. FormValueError for a value /swarm would refuse or fail to convert."""
    if not tested():
        return None
    values = dict(vars(options))
    for key, value in form.items():
        if key == "user_count":
            values["num_users"] = _number(int, "Number of users", value)
        elif key == "spawn_rate":
            values["spawn_rate"] = _number(float, "Ramp up", value)
        elif key == "host":
            values["host"] = str(value).replace("<", "").replace(">", "")
        elif key == "user_classes":
            values["user_classes"] = _all(form, key, value)
        elif key == "run_time":
            if value:
                values["run_time"] = _time_span(value)
        elif key == "profile":
            values["profile"] = str(value) or None
        elif key in values:
            try:
                values[key] = _converted(values[key], value, form, key)
            except ValueError:
                kind = {int: "a whole number", float: "a number"}.get(type(values[key]), "valid")
                raise FormValueError(f"--{key.replace('_', '-')} must be {kind}, got {value!r}") from None
    return argparse.Namespace(**values)


def _converted(current: Any, value: str, form: Mapping[str, str], key: str) -> Any:
    """A form value with the type the option has now, as /swarm converts it (it keeps the option's type)."""
    if isinstance(current, bool):
        return value == "true"
    if current is None:
        return value
    if isinstance(current, list):
        listed = value.split(",") if "," in value else _all(form, key, value)
        return [int(x) for x in listed] if all(isinstance(x, int) for x in current) else listed
    return type(current)(value)


def _all(form: Mapping[str, str], key: str, value: str) -> list[str]:
    """Every value the form sent for `key` (a Flask MultiDict has getlist), else the one."""
    getlist = getattr(form, "getlist", None)
    return list(getlist(key)) if getlist is not None else [value]


def _number(kind: type, label: str, value: str) -> float:
    try:
        return kind(value)
    except ValueError:
        raise FormValueError(f"{label} must be a number, got {value!r}") from None


def _time_span(value: str) -> int:
    try:
        return parse_timespan(value)
    except ValueError:
        raise FormValueError(f"Run time must be a time span such as 90, 30s, 3m or 1h20m, got {value!r}") from None
