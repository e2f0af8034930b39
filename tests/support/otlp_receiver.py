"""A loopback OTLP/HTTP receiver for tests: decodes each metrics export (protobuf) with opentelemetry-proto."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest


@dataclass(frozen=True)
class Point:
    """One data point of one export: metric name, kind (sum, gauge, histogram), attributes and value or count."""

    metric: str
    kind: str
    attributes: dict[str, str]
    value: float
    temporality: int = 0
    resource: tuple[tuple[str, str], ...] = ()


@dataclass
class Receiver:
    """What the receiver has been sent."""

    url: str
    points: list[Point] = field(default_factory=list)
    exports: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, body: bytes) -> None:
        request = ExportMetricsServiceRequest()
        request.ParseFromString(body)
        found = []
        for rm in request.resource_metrics:
            resource = tuple(sorted((a.key, _value(a.value)) for a in rm.resource.attributes))
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    found += _points(metric, resource)
        with self.lock:
            self.points.extend(found)
            self.exports += 1

    def named(self, metric: str) -> list[Point]:
        with self.lock:
            return [p for p in self.points if p.metric == metric]

    def delta_sum(self, metric: str, **attributes: str) -> float:
        """The sum of every exported (delta) value of `metric` whose attributes include `attributes`."""
        return sum(p.value for p in self.named(metric) if attributes.items() <= p.attributes.items())


def _value(value: Any) -> str:
    return str(getattr(value, value.WhichOneof("value"))) if value.WhichOneof("value") else ""


def _points(metric: Any, resource: tuple[tuple[str, str], ...]) -> list[Point]:
    kind = metric.WhichOneof("data")
    data = getattr(metric, kind)
    out = []
    for point in data.data_points:
        attributes = {a.key: _value(a.value) for a in point.attributes}
        if kind == "histogram":
            value = float(point.count)
        else:
            value = point.as_double if point.WhichOneof("value") == "as_double" else float(point.as_int)
        temporality = getattr(data, "aggregation_temporality", 0)
        out.append(Point(metric.name, kind, attributes, value, temporality, resource))
    return out


@contextmanager
def otlp_receiver() -> Iterator[Receiver]:
    """An OTLP/HTTP receiver on a free loopback port (POST /v1/metrics; traces and logs are accepted and dropped)."""
    receiver: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            if self.path == "/v1/metrics":
                receiver.take(body)
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver = Receiver(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
