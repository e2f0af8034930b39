"""The main process: reserves the port, forks workers, prints the ready line, serves /stats, handles signals."""

from __future__ import annotations

import asyncio
import collections
import multiprocessing
import os
import signal
import socket
import sys
import tempfile
from typing import Any

import orjson
import uvloop

from . import control
from .counters import empty_stats, sum_stats
from .fault_control import FaultControl, is_loopback
from .options import Config
from .stats_http import Handler, start_stats_server
from .worker import reuseport_socket, run_worker

START_TIMEOUT_S = 30.0
SNAPSHOT_TIMEOUT_S = 5.0
#: Beyond --shutdown-grace: time for workers to close connections (1 s close wait + slack).
STOP_SLACK_S = 4.0


class StartupError(Exception):
    """The server could not start; ``str()`` is one printable line."""


def run(config: Config) -> int:
    """Start the workers and serve until SIGINT/SIGTERM; return the exit code."""
    try:
        family, address, reserve = reserve_port(config.host, config.port)
    except StartupError as exc:
        _error(str(exc))
        return 1
    fork = multiprocessing.get_context("fork")
    pairs = [socket.socketpair() for _ in range(config.workers)]
    links: list[WorkerLink] = []
    for index, (parent_end, child_end) in enumerate(pairs):
        inherited = [reserve] + [s for pair in pairs for s in pair if s is not child_end]
        process = fork.Process(
            target=run_worker,
            args=(config, index, child_end, family, address, inherited),
            name=f"reference_server-worker-{index}",
            daemon=True,
        )
        process.start()
        links.append(WorkerLink(index, process, parent_end))
    for _, child_end in pairs:
        child_end.close()
    return uvloop.run(supervise(config, links, reserve, address))


def reserve_port(host: str, port: int) -> tuple[int, tuple[Any, ...], socket.socket]:
    """Resolve ``host``, check the port is free, and hold it with a bound SO_REUSEPORT socket.

    The first probe binds without SO_REUSEPORT, so an existing listener (even another
    reference_server) is an error instead of silently sharing the port. Returns
    (family, address with the real port, reserving socket).
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise StartupError(f"cannot resolve --host {host}: {exc.strerror}") from None
    family, _, _, _, sockaddr = infos[0]
    probe = socket.socket(family, socket.SOCK_STREAM)
    try:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        probe.bind(sockaddr)
        real_port = probe.getsockname()[1]
    except OSError as exc:
        raise StartupError(f"cannot listen on {host} port {port}: {exc.strerror or exc}") from None
    finally:
        probe.close()
    address = (sockaddr[0], real_port, *sockaddr[2:])
    try:
        reserve = reuseport_socket(family, address, listen=False)
    except OSError as exc:
        raise StartupError(f"cannot listen on {host} port {real_port}: {exc.strerror or exc}") from None
    return family, address, reserve


class WorkerLink:
    """The supervisor's end of one worker's control channel."""

    def __init__(self, index: int, process: multiprocessing.process.BaseProcess, sock: socket.socket) -> None:
        self.index = index
        self.process = process
        self._sock = sock
        self._writer: asyncio.StreamWriter | None = None
        # One (future, fallback) per snap or command sent, answered in order; the fallback
        # is the answer if the worker goes away first (None: its latest counters).
        self._waiters: collections.deque[tuple[asyncio.Future[dict[str, Any]], dict[str, Any] | None]] = (
            collections.deque()
        )
        self.final: dict[str, Any] | None = None
        self.last: dict[str, Any] | None = None
        self.ready: asyncio.Future[None] | None = None
        self.gone: asyncio.Future[None] | None = None
        self._reader_task: asyncio.Task[None] | None = None

    async def open(self) -> None:
        """Start reading the worker's lines."""
        loop = asyncio.get_running_loop()
        self.ready = loop.create_future()
        self.gone = loop.create_future()
        reader, self._writer = await asyncio.open_connection(sock=self._sock)
        self._reader_task = loop.create_task(self._read(reader))

    @property
    def counters(self) -> dict[str, Any]:
        """The most recent counters we have (final if the worker finished)."""
        return self.final or self.last or empty_stats()

    async def snapshot(self) -> dict[str, Any]:
        """Ask the worker for its counters now (its final ones once it has stopped)."""
        assert self.gone is not None and self._writer is not None
        if self.gone.done() or self.final is not None:
            return self.counters
        return await self._ask(control.SNAP, None)

    async def command(self, name: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send one control command and return the worker's reply ({} if it has stopped)."""
        assert self.gone is not None
        if self.gone.done() or self.final is not None:
            return {}
        return await self._ask(control.command_line(name, payload), {})

    async def _ask(self, line: bytes, fallback: dict[str, Any] | None) -> dict[str, Any]:
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiters.append((waiter, fallback))
        self._send(line)
        return await asyncio.wait_for(waiter, SNAPSHOT_TIMEOUT_S)

    def stop(self) -> None:
        """Ask the worker to shut down gracefully."""
        self._send(control.STOP)

    def _send(self, line: bytes) -> None:
        if self._writer is not None and not self._writer.is_closing():
            try:
                self._writer.write(line)
            except OSError:
                pass

    async def _read(self, reader: asyncio.StreamReader) -> None:
        assert self.ready is not None and self.gone is not None
        try:
            while line := await reader.readline():
                kind, stats = control.parse_line(line)
                if kind == control.KIND_READY:
                    if not self.ready.done():
                        self.ready.set_result(None)
                elif kind in (control.KIND_SNAP, control.KIND_REPLY):
                    if kind == control.KIND_SNAP:
                        self.last = stats
                    if self._waiters:
                        waiter, _ = self._waiters.popleft()
                        if not waiter.done():
                            waiter.set_result(stats or (empty_stats() if kind == control.KIND_SNAP else {}))
                elif kind == control.KIND_FINAL:
                    self.final = stats
        except (OSError, ValueError):
            pass
        for waiter, fallback in self._waiters:
            if not waiter.done():
                waiter.set_result(self.counters if fallback is None else fallback)
        self._waiters.clear()
        if not self.ready.done():
            self.ready.set_exception(StartupError(f"worker {self.index} exited before it was ready"))
            self.ready.exception()  # mark retrieved
        if self._writer is not None:
            self._writer.close()
        self.gone.set_result(None)


class _Signals:
    """The first SIGINT/SIGTERM asks for a graceful shutdown (``stop``); a second SIGINT, for a forced one."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.stop = asyncio.Event()
        self.force = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self._on_signal, signum)

    def _on_signal(self, signum: int) -> None:
        # Repeated SIGTERMs are ignored; Ctrl-C again kills the workers at once.
        if not self.stop.is_set():
            self.stop.set()
        elif signum == signal.SIGINT:
            self.force.set()


async def supervise(config: Config, links: list[WorkerLink], reserve: socket.socket, address: tuple[Any, ...]) -> int:
    """Run the supervisor's event loop until shutdown; return the exit code."""
    signals = _Signals(asyncio.get_running_loop())
    for link in links:
        await link.open()
    started = await _wait_started(links, signals.stop)
    reserve.close()
    if not started:
        await _stop_workers(links, config.shutdown_grace_s, signals.force)
        return 0 if signals.stop.is_set() else 1
    try:
        metrics = await start_stats_server(config.host, config.metrics_port, _routes(config, links))
    except OSError as exc:
        _error(f"cannot serve /stats on {config.host} port {config.metrics_port}: {exc.strerror or exc}")
        await _stop_workers(links, config.shutdown_grace_s, signals.force)
        return 1
    _announce(config, address[1], metrics.sockets[0].getsockname()[1])
    crashed = await _wait_end(links, signals.stop)
    for link in crashed:
        _error(f"worker {link.index} exited unexpectedly; shutting down")
    await _stop_workers(links, config.shutdown_grace_s, signals.force)
    metrics.close()
    code = 1 if crashed else 0
    if config.stats_file is not None:
        try:
            write_stats_file(config.stats_file, sum_stats(link.counters for link in links))
        except OSError as exc:
            _error(f"cannot write --stats-file: {exc.strerror or exc}")
            code = 1
    return code


def _error(message: str) -> None:
    print(f"reference_server: error: {message}", file=sys.stderr, flush=True)


def _routes(config: Config, links: list[WorkerLink]) -> dict[str, dict[str, Handler]]:
    """The metrics port's routes: /stats, /stats/workers and (unless --no-control) /control/..."""

    async def stats_body() -> bytes:
        return orjson.dumps(sum_stats(await asyncio.gather(*(link.snapshot() for link in links))))

    async def workers_body() -> bytes:
        return orjson.dumps(list(await asyncio.gather(*(link.snapshot() for link in links))))

    routes: dict[str, dict[str, Handler]] = {
        "/stats": {"GET": lambda _body: stats_body()},
        "/stats/workers": {"GET": lambda _body: workers_body()},
    }
    if config.control:
        routes.update(FaultControl(links, config.faults).routes())
    return routes


def _announce(config: Config, port: int, metrics_port: int) -> None:
    """Print the ready line (and warn when the control routes are reachable beyond loopback)."""
    host = f"[{config.host}]" if ":" in config.host else config.host
    print(f"listening on {config.scheme}://{host}:{port}/ stats http://{host}:{metrics_port}/stats", flush=True)
    if config.control and not is_loopback(config.host):
        print(
            f"reference_server: warning: the fault-injection routes (/control/...) are reachable on "
            f"{config.host} port {metrics_port}; give --no-control unless that is intended",
            file=sys.stderr,
            flush=True,
        )


async def _wait_end(links: list[WorkerLink], stop: asyncio.Event) -> list[WorkerLink]:
    """Wait for a shutdown signal or a worker's exit; return the workers that exited without final counters."""
    stop_wait = asyncio.get_running_loop().create_task(stop.wait())
    assert all(link.gone is not None for link in links)
    await asyncio.wait([stop_wait, *(link.gone for link in links)], return_when=asyncio.FIRST_COMPLETED)  # type: ignore[misc]
    stop_wait.cancel()
    return [link for link in links if link.gone.done() and link.final is None]  # type: ignore[union-attr]


async def _wait_started(links: list[WorkerLink], stop: asyncio.Event) -> bool:
    """True once every worker is ready; False if one died, a signal came, or it took too long."""
    ready = asyncio.gather(*(link.ready for link in links if link.ready is not None))
    stop_wait = asyncio.ensure_future(stop.wait())
    done, _ = await asyncio.wait([ready, stop_wait], timeout=START_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED)
    stop_wait.cancel()
    if ready in done and ready.exception() is None:
        return True
    if not ready.done():
        ready.cancel()
        if not stop.is_set():
            print("reference_server: error: workers did not start in time", file=sys.stderr, flush=True)
    elif ready.exception() is not None:
        print(f"reference_server: error: {ready.exception()}", file=sys.stderr, flush=True)
    return False


async def _stop_workers(links: list[WorkerLink], grace_s: float, force: asyncio.Event) -> None:
    """Tell every worker to stop; kill those still running after the grace (or a second signal)."""
    for link in links:
        link.stop()
    gone = [link.gone for link in links if link.gone is not None]
    force_wait = asyncio.ensure_future(force.wait())
    all_gone = asyncio.gather(*gone)
    await asyncio.wait([all_gone, force_wait], timeout=grace_s + STOP_SLACK_S, return_when=asyncio.FIRST_COMPLETED)
    force_wait.cancel()
    for link in links:
        link.process.join(timeout=0.0 if force.is_set() else 1.0)
        if link.process.is_alive():
            link.process.kill()
            link.process.join(timeout=1.0)
    if not all_gone.done():
        await asyncio.wait([all_gone], timeout=1.0)
        all_gone.cancel()


def write_stats_file(path: str, stats: dict[str, Any]) -> None:
    """Write ``stats`` as JSON to ``path`` atomically (temp file + rename)."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".stats-", suffix=".json", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(orjson.dumps(stats, option=orjson.OPT_INDENT_2) + b"\n")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
