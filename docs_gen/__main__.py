"""`python -m docs_gen` writes the generated docs pages; `--check` exits 1 (naming them) when one is out of date."""

from __future__ import annotations

import sys

from docs_gen.options_page import OPTIONS_PAGE, render_options_page


def main(argv: list[str]) -> int:
    page = render_options_page()
    if argv == ["--check"]:
        if OPTIONS_PAGE.read_text() != page:
            sys.stderr.write(f"error: {OPTIONS_PAGE} is out of date: run python -m docs_gen\n")
            return 1
        return 0
    if argv:
        sys.stderr.write("error: usage: python -m docs_gen [--check]\n")
        return 2
    OPTIONS_PAGE.write_text(page)
    print(f"wrote {OPTIONS_PAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
