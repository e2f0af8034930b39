"""A tiny asyncio HTTP/1.1 responder (JSON in and out), one request per connection.

GET and POST only; a POST body needs ``Content-Length`` (no chunked encoding) and is
at most ``MAX_BODY_BYTES``. Handlers take the body and return a JSON body (200) or
raise HttpError.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from orjson import JSONDecodeError, dumps, loads

#: A handler gets the request body (b"" for GET) and returns a JSON body.
Handler = Callable[[bytes], Awaitable[bytes]]
#: path -> method -> handler.
Routes = Mapping[str, Mapping[str, Handler]]
MAX_HEAD_BYTES = 8192
MAX_BODY_BYTES = 16 * 1024
READ_TIMEOUT_S = 5.0
#: After answering, unread request bytes (e.g. a refused body) are read and discarded for
#: up to this long / this much, so closing does not reset the connection before the
#: client has read the answer.
LINGER_S = 1.0
LINGER_BYTES = 1024 * 1024
_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    413: "Content Too Large",
    500: "Internal Server Error",
}


class HttpError(Exception):
    """An error answer: ``status`` with the JSON body ``{"error": message[, "field": field]}``."""

    def __init__(
        self, status: int, message: str, field: str | None = None, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.headers = dict(headers or {})

    def body(self) -> bytes:
        """The JSON body."""
        out: dict[str, Any] = {"error": self.message}
        if self.field is not None:
            out["field"] = self.field
        return dumps(out)


def parse_head(head: bytes) -> tuple[str, str, int]:
    """(method, path without query, content length) from a request head; HttpError 400/413."""
    if len(head) > MAX_HEAD_BYTES:
        raise HttpError(400, "request head too large")
    lines = head.split(b"\r\n")
    parts = lines[0].split()
    if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
        raise HttpError(400, "bad request line")
    method = parts[0].decode("latin-1")
    path = parts[1].decode("latin-1").split("?", 1)[0]
    length: int | None = None
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep:
            continue
        name = name.strip().lower()
        if name == b"transfer-encoding":
            raise HttpError(400, "send the body with Content-Length, not Transfer-Encoding")
        if name == b"content-length":
            text = value.strip()
            if not text.isdigit() or (length is not None and length != int(text)):
                raise HttpError(400, "bad Content-Length")
            length = int(text)
    if length is not None and length > MAX_BODY_BYTES:
        raise HttpError(413, f"body larger than {MAX_BODY_BYTES} bytes")
    return method, path, length or 0


def json_object(body: bytes) -> dict[str, Any]:
    """The request body as a JSON object (empty body: ``{}``); HttpError 400 otherwise."""
    if not body.strip():
        return {}
    try:
        value = loads(body)
    except JSONDecodeError:
        raise HttpError(400, "body is not valid JSON", "body") from None
    if not isinstance(value, dict):
        raise HttpError(400, "body must be a JSON object", "body")
    return value


async def start_stats_server(host: str, port: int, routes: Routes) -> asyncio.Server:
    """Serve ``routes`` on host:port."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            status, body, headers = await _respond(reader, routes)
            extra = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
            head = (
                f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
                "Content-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n"
                "Cache-Control: no-store\r\n"
                f"{extra}"
                "Connection: close\r\n\r\n"
            ).encode("latin-1")
            writer.write(head + body)
            await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()
                await asyncio.wait_for(_discard(reader), LINGER_S)
        except (OSError, TimeoutError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, host, port, reuse_address=True)


async def _discard(reader: asyncio.StreamReader) -> None:
    total = 0
    while total < LINGER_BYTES and (chunk := await reader.read(65536)):
        total += len(chunk)


async def _respond(reader: asyncio.StreamReader, routes: Routes) -> tuple[int, bytes, dict[str, str]]:
    """Read one request and run its handler -> (status, JSON body, extra headers)."""
    try:
        handler, body = await _read_request(reader, routes)
        return 200, await handler(body), {}
    except HttpError as exc:
        return exc.status, exc.body(), exc.headers
    except Exception as exc:  # e.g. a worker did not answer in time
        return 500, dumps({"error": type(exc).__name__}), {}


async def _read_request(reader: asyncio.StreamReader, routes: Routes) -> tuple[Handler, bytes]:
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT_S)
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        raise HttpError(400, "bad request") from None
    except TimeoutError:
        raise HttpError(408, "request head not received in time") from None
    method, path, length = parse_head(head)
    methods = routes.get(path)
    if methods is None:
        raise HttpError(404, "not found")
    handler = methods.get(method)
    if handler is None:
        raise HttpError(405, f"use {' or '.join(methods)}", headers={"Allow": ", ".join(methods)})
    try:
        body = await asyncio.wait_for(reader.readexactly(length), READ_TIMEOUT_S) if length else b""
    except asyncio.IncompleteReadError:
        raise HttpError(400, "body shorter than Content-Length") from None
    except TimeoutError:
        raise HttpError(408, "request body not received in time") from None
    return handler, body
