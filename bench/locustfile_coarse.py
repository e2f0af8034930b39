"""Bench locustfile: the real locustfile.py with Locust's own whole-millisecond buckets put back.

Used by bench.bench_latency_resolution to price the 0.01 ms buckets: everything
else (options, reporting, PREFIX_ws.csv, the final CSV rows, ToolCallUser) is
the real entry point's, imported rather than copied so the two cannot drift.
Run from the repository root (``python -m locust`` puts it on sys.path).
"""

from locust import stats as _locust_stats

import locustfile as _entry  # noqa: F401  the real entry point: gevent patching, options, reporting
from users.integration import stats_path as _stats_path

_locust_stats.bucket_response_time = _stats_path.ORIGINAL_BUCKET  # Locust's own buckets; the rest as the real one

ToolCallUser = _entry.ToolCallUser
