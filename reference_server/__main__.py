"""``python -m reference_server``: parse options, then run the supervisor and its workers."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Run the server; exit code 2 for a bad option (one line on stderr), 1 for a runtime failure."""
    from .options import ConfigError, parse_config, scrub, secret_values

    args = list(sys.argv[1:] if argv is None else argv)
    try:
        config = parse_config(args, os.environ)
    except ConfigError as exc:
        message = scrub(str(exc), secret_values(args, os.environ)).replace("\n", " ")
        print(f"reference_server: error: {message}", file=sys.stderr, flush=True)
        return 2
    from .supervisor import run

    return run(config)


if __name__ == "__main__":
    sys.exit(main())
