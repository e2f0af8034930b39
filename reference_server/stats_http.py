"""A tiny asyncio HTTP/1.1 responder for GET /stats (JSON), one request per connection."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

Route = Callable[[], Awaitable[bytes]]
MAX_HEAD_BYTES = 8192
READ_TIMEOUT_S = 5.0
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
            500: "Internal Server Error"}


async def start_stats_server(host: str, port: int, routes: Mapping[str, Route]) -> asyncio.Server:
    """Serve ``routes`` (path -> coroutine returning a JSON body) on host:port."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            status, body = await _respond(reader, routes)
            head = (
                f"HTTP/1.1 {status} {_REASONS[status]}\r\n"
                "Content-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n"
                "Cache-Control: no-store\r\n"
                "Connection: close\r\n\r\n"
            ).encode("ascii")
            writer.write(head + body)
            await writer.drain()
        except (OSError, asyncio.TimeoutError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, host, port, reuse_address=True)


async def _respond(reader: asyncio.StreamReader, routes: Mapping[str, Route]) -> tuple[int, bytes]:
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT_S)
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        return 400, b'{"error":"bad request"}'
    if len(head) > MAX_HEAD_BYTES:
        return 400, b'{"error":"request head too large"}'
    parts = head.split(b"\r\n", 1)[0].split()
    if len(parts) != 3:
        return 400, b'{"error":"bad request line"}'
    method, target = parts[0], parts[1].decode("latin-1").split("?", 1)[0]
    route = routes.get(target)
    if route is None:
        return 404, b'{"error":"not found"}'
    if method != b"GET":
        return 405, b'{"error":"use GET"}'
    try:
        return 200, await route()
    except Exception as exc:  # e.g. a worker did not answer in time
        return 500, b'{"error":"' + type(exc).__name__.encode() + b'"}'
