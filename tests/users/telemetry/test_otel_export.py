"""The OpenTelemetry instruments read the same values as /metrics (values in, observations out; no SDK)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from tests.users.telemetry.test_prometheus_export import Entry, Error, Stats
from users.telemetry.otel_export import instruments
from users.telemetry.prometheus_export import RunSources, WsCollector
from users.telemetry.ws_csv import COUNTER_KEYS


def test_every_instrument_reads_what_metrics_serves() -> None:
    counters = {key: float(i + 1) for i, key in enumerate(COUNTER_KEYS)}
    stats = Stats(entries={("call_tool:echo", "WS"): Entry("call_tool:echo", {0.2: 5}, 1)},
                  errors={"e": Error("call_tool:echo", "timeout", 1)})  # fmt: skip
    sources = RunSources(counters=lambda: counters, stats=lambda: stats, users=lambda: 3,
                         thresholds=lambda: {"p99<1ms": True})  # fmt: skip
    registry = CollectorRegistry(auto_describe=False)
    registry.register(WsCollector(sources))
    served = {(s.name, tuple(sorted(s.labels.items()))): s.value
              for f in text_string_to_metric_families(generate_latest(registry).decode()) for s in f.samples}  # fmt: skip
    names = [i.name for i in instruments()]
    assert len(names) == len(set(names)) and all(n.startswith("wsload.") for n in names)
    compared = 0
    for instrument in instruments():
        base = "wsload_" + instrument.name.removeprefix("wsload.")
        sample = base + ("_total" if instrument.kind == "counter" else "")
        for value, attributes in instrument.read(sources):
            assert served[(sample, tuple(sorted(attributes.items())))] == value, (instrument.name, attributes)
            compared += 1
    assert compared >= 25
