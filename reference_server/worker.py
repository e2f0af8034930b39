"""One server process: serves WebSocket connections on its own SO_REUSEPORT socket with uvloop."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import sys
import warnings
from collections.abc import Iterable

import uvloop
from picows import WSCloseCode

from . import SERVER_NAME, __version__, control
from .connection import CLOSE_REPLY_TIMEOUT_S, ServerContext
from .counters import Counters
from .gate import HandshakeGate, create_gated_server
from .injector import Injector
from .options import Config, make_tls_context
from .push import Hub
from .tools import reference_tools

log = logging.getLogger("reference_server")
LISTEN_BACKLOG = 2048
_POLL_S = 0.005


def reuseport_socket(family: int, address: tuple[str, int], listen: bool = True) -> socket.socket:
    """A TCP socket bound to ``address`` with SO_REUSEADDR and SO_REUSEPORT (optionally listening)."""
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
        if listen:
            sock.listen(LISTEN_BACKLOG)
            sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def configure_logging(name: str) -> None:
    """Warnings and errors to stderr, prefixed with the process name; picows kept quiet.

    picows logs every client protocol violation (oversized frame, bad opcode) at ERROR;
    those are the client's problem, so only CRITICAL picows records are shown. Our own
    callbacks catch and log their exceptions themselves.
    """
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format=f"{name}: %(levelname)s %(message)s")
    logging.getLogger("picows").setLevel(logging.CRITICAL)
    warnings.filterwarnings("ignore", module="jwt")  # short-HMAC-key warnings on every decode


def run_worker(
    config: Config,
    index: int,
    control_sock: socket.socket,
    family: int,
    address: tuple[str, int],
    inherited: Iterable[socket.socket] = (),
) -> None:
    """Entry point of a worker process (forked by the supervisor)."""
    for sock in inherited:
        sock.close()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the supervisor relays SIGINT as "stop"
    configure_logging(f"reference_server[worker {index}]")
    uvloop.run(serve(config, index, control_sock, family, address))


async def serve(config: Config, index: int, control_sock: socket.socket, family: int, address: tuple[str, int]) -> None:
    """Serve until told to stop (control line, control EOF or SIGTERM), then drain."""
    loop = asyncio.get_running_loop()
    ctx = ServerContext(
        loop=loop,
        counters=Counters(),
        verifier=config.verifier,
        tools=reference_tools(),
        hub=Hub(),
        server_info={"name": SERVER_NAME, "version": __version__},
        hello_timeout_s=config.hello_timeout_s,
        max_message_bytes=config.max_message_bytes,
        rate_limit=config.rate_limit,
        tool_timeout_s=config.tool_timeout_s,
        max_send_buffer_bytes=config.max_send_buffer_bytes,
        send_timeout_s=config.send_timeout_s,
        max_connections=config.max_connections,
        protocol=config.protocol,
        ping_interval_s=config.mcp_ping_interval_s,
    )
    injector = Injector(ctx, config.workers)
    injector.apply(config.faults)
    tls = make_tls_context(config.tls_cert, config.tls_key) if config.tls_cert and config.tls_key else None
    gate = HandshakeGate(
        loop, ctx.counters, config.max_pending_handshakes, config.handshake_timeout_s, tls=tls is not None
    )
    server = await create_gated_server(
        injector.accept,
        gate,
        sock=reuseport_socket(family, address),
        tls=tls,
        backlog=LISTEN_BACKLOG,
        max_frame_size=config.max_message_bytes,
        logger_name=f"worker{index}",
    )
    reader, writer = await asyncio.open_connection(sock=control_sock)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    writer.write(control.READY)
    control_task = loop.create_task(_answer_control(reader, writer, ctx, injector, stop))
    await stop.wait()
    injector.stop()
    await drain(ctx, server, config.shutdown_grace_s)
    control_task.cancel()
    try:
        writer.write(control.stats_line(control.KIND_FINAL, ctx.counters.to_dict()))
        await writer.drain()
        writer.close()
    except OSError:
        pass  # the supervisor is gone; nobody to tell


async def _answer_control(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    ctx: ServerContext,
    injector: Injector,
    stop: asyncio.Event,
) -> None:
    while True:
        try:
            line = await reader.readline()
        except (OSError, ValueError):
            line = b""
        if line == control.SNAP:
            writer.write(control.stats_line(control.KIND_SNAP, ctx.counters.to_dict()))
        elif line == control.STOP:
            stop.set()
        elif not line:
            stop.set()
            return
        else:
            try:
                name, payload = control.parse_command(line)
            except ValueError as exc:
                writer.write(control.reply_line({"error": str(exc)}))
                continue
            writer.write(control.reply_line(injector.command(name, payload)))


async def drain(ctx: ServerContext, server: asyncio.AbstractServer, grace_s: float) -> None:
    """Graceful shutdown of this process's connections.

    Stop accepting and stop push streams; wait up to ``grace_s`` for in-flight calls
    to be answered; close every connection with 1001; drop those that do not answer
    the close within a second.
    """
    loop = ctx.loop
    ctx.shutting_down = True
    server.close()
    for conn in list(ctx.connections):
        conn.stop_streams()
    deadline = loop.time() + grace_s
    while loop.time() < deadline and any(conn.busy for conn in ctx.connections):
        await asyncio.sleep(_POLL_S)
    for conn in list(ctx.connections):
        conn.close(WSCloseCode.GOING_AWAY, "server shutting down")
    deadline = loop.time() + CLOSE_REPLY_TIMEOUT_S + 0.5
    while ctx.connections and loop.time() < deadline:
        await asyncio.sleep(_POLL_S)
    for conn in list(ctx.connections):
        conn.abort()
    deadline = loop.time() + 0.5
    while ctx.connections and loop.time() < deadline:
        await asyncio.sleep(_POLL_S)
