"""Serves /metrics (users.telemetry.prometheus_export) from the master or a single process; lingers after a headless run."""

from __future__ import annotations

import logging
from typing import Any

import gevent
import gevent.event
from locust.env import Environment
from locust.runners import WorkerRunner
from prometheus_client import CollectorRegistry, start_http_server

from option_table import exit_bad_option
from users.load.config import RunConfig, current_config
from users.telemetry.export_readings import RunReadings
from users.telemetry.prometheus_export import WsCollector

logger = logging.getLogger(__name__)


def metrics_port(config: RunConfig) -> int | None:
    """The port to serve /metrics on, or None (off)."""
    text = str(config.prometheus_port or "").strip()
    return int(text) if text else None


class PrometheusEndpoint:
    """One process's /metrics: started at init (never on a worker), read from RunReadings on each scrape."""

    def __init__(self, readings: RunReadings) -> None:
        self.readings = readings
        self.server: Any = None
        self._linger: gevent.event.Event | None = None

    def on_init(self, environment: Environment, **_: Any) -> None:
        """Bind the port (a bad or busy one: one error line, exit code 2) unless this is a worker or it is off."""
        config = current_config(environment)
        port = metrics_port(config)
        if port is None or isinstance(environment.runner, WorkerRunner):
            return
        host = config.prometheus_host or "127.0.0.1"
        registry = CollectorRegistry(auto_describe=False)
        registry.register(WsCollector(self.readings.sources(environment)))
        try:
            self.server, _ = start_http_server(port, addr=host, registry=registry)
        except OSError as exc:
            exit_bad_option(f"--prometheus-port {port} on {host}: {exc.strerror or exc}")
        logger.info("Prometheus metrics on http://%s:%d/metrics", host, port)

    def on_quitting(self, environment: Environment, **_: Any) -> None:
        """After a headless run: keep serving the final values for --prometheus-linger seconds; a second quit
        (SIGTERM while lingering runs Locust's shutdown again) ends the wait."""
        if self._linger is not None:
            self._linger.set()
            return
        config = current_config(environment)
        linger = config.prometheus_linger
        if self.server is None or linger <= 0 or not config.headless:
            return
        logger.info("serving the final metrics for %.0f s more (--prometheus-linger)", linger)
        self._linger = gevent.event.Event()
        self._linger.wait(linger)


def register_prometheus(events: Any, readings: RunReadings) -> PrometheusEndpoint:
    """Attach the /metrics endpoint to Locust's events (after option checking)."""
    endpoint = PrometheusEndpoint(readings)
    events.init.add_listener(endpoint.on_init)
    events.quitting.add_listener(endpoint.on_quitting)
    return endpoint
