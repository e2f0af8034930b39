"""Bench locustfile: the real locustfile.py with TLS session resumption off (a full handshake every connection).

Used by ``bench.bench_churn --tls`` to price resumption: the users never keep a
TLS session (``users.engine.dial.remember_session`` does nothing), so none is
offered. Everything else is the real entry point's, imported rather than copied
so the two cannot drift. Bench-only: the product has no switch for this. Run
from the repository root (``python -m locust`` puts it on sys.path).
"""

from typing import Any

import locustfile as _entry  # the real entry point: gevent patching, options, reporting, ToolCallUser
from users.engine import dial as _dial


def _forget(*_: Any) -> None:
    """Keep no session: the next connection to the origin makes a full TLS handshake."""


_dial.remember_session = _forget
_dial._SESSIONS.clear()

ToolCallUser = _entry.ToolCallUser
