"""Our build of Locust's web UI and our start form, put into Locust's WebUI through its template internals.

Locust documents `web_ui.app` (a Flask app) for extra routes, not how its page is rendered: the template folder,
the JSON policy and `update_template_args`/`template_args` are read and replaced here only.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
