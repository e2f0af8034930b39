"""stats_http: request heads and bodies (pure), then the responder itself on a loopback socket."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest

from reference_server.stats_http import (
    MAX_BODY_BYTES,
    HttpError,
    json_object,
    parse_head,
    start_stats_server,
)


def test_parse_head() -> None:
    assert parse_head(b"GET /stats?x=1 HTTP/1.1\r\nHost: a\r\n\r\n") == ("GET", "/stats", 0)
    head = b"POST /control/drop HTTP/1.1\r\ncontent-length: 17\r\nContent-Length: 17\r\n\r\n"
    assert parse_head(head) == ("POST", "/control/drop", 17)


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (b"GET /stats\r\n\r\n", 400),
        (b"GET /stats SPDY/3\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        (f"POST / HTTP/1.1\r\nContent-Length: {MAX_BODY_BYTES + 1}\r\n\r\n".encode(), 413),
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n", 400),
    ],
)
def test_bad_heads(head: bytes, status: int) -> None:
    with pytest.raises(HttpError) as info:
        parse_head(head)
    assert info.value.status == status


def test_json_object() -> None:
    assert json_object(b"") == {} and json_object(b" \n") == {}
    assert json_object(b'{"a": 1}') == {"a": 1}
    for body in (b"{", b"[1]", b"3", b'"x"'):
        with pytest.raises(HttpError) as info:
            json_object(body)
        assert info.value.status == 400 and info.value.field == "body"
        assert json.loads(info.value.body())["field"] == "body"


def _exchange(port: int, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``raw``, end our side, read the whole answer -> (status, headers, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(raw)
        sock.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    assert int(headers["Content-Length"]) == len(body)
    return int(lines[0].split()[1]), headers, body


def test_responder_routes_methods_and_bodies() -> None:
    async def echo(body: bytes) -> bytes:
        return json.dumps({"got": json_object(body)}).encode()

    async def broken(_body: bytes) -> bytes:
        raise TimeoutError("worker did not answer")

    async def main() -> list[tuple[int, dict[str, str], bytes]]:
        server = await start_stats_server("127.0.0.1", 0, {"/echo": {"POST": echo}, "/broken": {"GET": broken}})
        port = server.sockets[0].getsockname()[1]
        requests = [
            b'POST /echo HTTP/1.1\r\nContent-Length: 8\r\n\r\n{"a": 1}',
            b"POST /echo HTTP/1.1\r\n\r\n",
            b"GET /echo HTTP/1.1\r\n\r\n",
            b"GET /nope HTTP/1.1\r\n\r\n",
            b"POST /echo HTTP/1.1\r\nContent-Length: 3\r\n\r\n[1]",
            b"GET /broken HTTP/1.1\r\n\r\n",
            b"POST /echo HTTP/1.1\r\nContent-Length: 10\r\n\r\n{}",  # body cut short, then EOF
        ]
        loop = asyncio.get_running_loop()
        results = []
        for raw in requests:
            results.append(await loop.run_in_executor(None, _exchange, port, raw))
        server.close()
        await server.wait_closed()
        return results

    results = asyncio.run(main())
    statuses = [status for status, _, _ in results]
    assert statuses == [200, 200, 405, 404, 400, 500, 400]
    assert json.loads(results[0][2]) == {"got": {"a": 1}}
    assert json.loads(results[1][2]) == {"got": {}}
    assert results[2][1]["Allow"] == "POST" and json.loads(results[2][2]) == {"error": "use POST"}
    assert json.loads(results[4][2]) == {"error": "body must be a JSON object", "field": "body"}
    assert json.loads(results[5][2]) == {"error": "TimeoutError"}
    assert all(headers["Content-Type"] == "application/json" for _, headers, _ in results)
