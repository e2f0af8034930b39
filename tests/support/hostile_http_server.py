"""A hostile HTTP listener for the upgrade, run as its own process: `python -m tests.support.hostile_http_server`.

Per `--mode`, after reading the request head: `endless-header` answers 101 and then one header line that never
ends; `drip-header` sends a 101 answer one byte every `--interval` seconds; `redirect` answers `--status`
(301) with `Location: --location` (`{self}` stands for its own URL); `retry-after` answers 503 with
`Retry-After: --retry-after`; `record` only reads. It prints `port N` once listening, `connection N` for each
TCP connection and `request N BYTES` once a request head came (`token` added when it carried a credential), so
a test can tell what reached it. Raw asyncio streams: no HTTP library.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.server_process import port_printing_server

COUNT = [0]


async def session(args: argparse.Namespace, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    COUNT[0] += 1
    n = COUNT[0]
    print(f"connection {n}", flush=True)
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        credential = b"authorization" in head.lower() or b"token" in head.lower()
        print(f"request {n} {len(head)}{' token' if credential else ''}", flush=True)
        await answer(args, writer)
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, TimeoutError):
        pass
    finally:
        writer.close()


async def answer(args: argparse.Namespace, writer: asyncio.StreamWriter) -> None:
    if args.mode == "endless-header":
        writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nX-Endless: ")
        chunk = b"a" * 65536
        while True:  # as fast as the client reads
            writer.write(chunk)
            await writer.drain()
    elif args.mode == "drip-header":
        for byte in b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" * 100:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(args.interval)
    elif args.mode == "redirect":
        location = args.location.replace("{self}", f"ws://127.0.0.1:{args.port}/")
        writer.write(f"HTTP/1.1 {args.status} Moved\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n".encode())
    elif args.mode == "retry-after":
        writer.write(f"HTTP/1.1 503 Busy\r\nRetry-After: {args.retry_after}\r\nContent-Length: 0\r\n\r\n".encode())
    if args.mode != "record":
        await writer.drain()
    await asyncio.sleep(30)  # `record`, or after an answer: the client closes


async def serve(args: argparse.Namespace) -> None:
    server = await asyncio.start_server(lambda r, w: session(args, r, w), "127.0.0.1", 0)
    args.port = server.sockets[0].getsockname()[1]
    print(f"port {args.port}", flush=True)
    async with server:
        await server.serve_forever()


@dataclass
class Hostile:
    """A running hostile listener: its URL, and what it printed."""

    url: str
    log: Path

    def lines(self, word: str) -> list[str]:
        """The printed lines starting with `word`."""
        return [line for line in self.log.read_text().splitlines() if line.startswith(word + " ")]


@contextmanager
def hostile_server(*args: str, timeout_s: float = 10.0) -> Iterator[Hostile]:
    """Start `python -m tests.support.hostile_http_server ARGS` on a free loopback port; stopped on exit."""
    with port_printing_server("tests.support.hostile_http_server", args, timeout_s=timeout_s) as (port, log):
        yield Hostile(f"ws://127.0.0.1:{port}/", log)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    modes = ["endless-header", "drip-header", "redirect", "retry-after", "record"]
    parser.add_argument("--mode", choices=modes, required=True)
    parser.add_argument("--interval", type=float, default=2.5, help="seconds between bytes (drip-header)")
    parser.add_argument("--status", type=int, default=301, help="redirect status (redirect)")
    parser.add_argument("--location", default="{self}", help="Location header (redirect)")
    parser.add_argument("--retry-after", default="2", help="Retry-After header (retry-after)")
    args = parser.parse_args()
    try:
        asyncio.run(serve(args))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
