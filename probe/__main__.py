"""Entry point of `python -m probe`."""

import sys

from probe.cli import main

sys.exit(main())
