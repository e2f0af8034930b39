"""Bench locustfile: the real locustfile.py with Locust's own whole-millisecond buckets put back.

Used by bench.bench_latency_resolution to price the 0.01 ms buckets: everything
else (options, reporting, PREFIX_ws.csv, the final CSV rows, ToolCallUser) is
the real entry point's, imported rather than copied so the two cannot drift.
Run from the repository root (``python -m locust`` puts it on sys.path).
"""

import locustfile as _entry  # noqa: F401  the real entry point: gevent patching, options, reporting
from users.latency_resolution import uninstall_latency_resolution

uninstall_latency_resolution()

ToolCallUser = _entry.ToolCallUser
