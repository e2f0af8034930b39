"""A JSON-RPC 2.0 / MCP server on wsproto (python-hyper's sans-I/O WebSocket library), for tests of the users
against a WebSocket implementation that is not ours: permessage-deflate negotiated by wsproto itself.

`python -m tests.support.wsproto_server --protocol jsonrpc|mcp [--deflate] [--token T] --counts FILE`
prints `listening on ws://127.0.0.1:PORT/` once ready and, on SIGTERM, writes its own counts (per tool calls,
results, errors by code, notifications sent, pings answered by the client) to FILE as JSON.
Tools: `echo` (the params back), `fail` (an error: JSON-RPC -32000; MCP `isError: true`), `notify` (MCP: a
progress and a logging notification before its result; JSON-RPC: an `eth_subscription` notification), any
other name is unknown (-32601; MCP -32602).
"""

from __future__ import annotations

import argparse
import json
import signal
import socket
import socketserver
import threading
from collections import Counter
from typing import Any

from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Message,
    Ping,
    RejectConnection,
    Request,
    TextMessage,
)
from wsproto.extensions import PerMessageDeflate

COUNTS: Counter[str] = Counter()
LOCK = threading.Lock()
OPTIONS = argparse.Namespace()


def count(key: str, n: int = 1) -> None:
    with LOCK:
        COUNTS[key] += n


def rpc(**fields: Any) -> str:
    return json.dumps({"jsonrpc": "2.0", **fields})


class Session:
    """One connection's JSON-RPC / MCP state (answers as text messages)."""

    def __init__(self) -> None:
        self.initialized = False
        self.pings = 0

    def answer(self, msg: Any) -> list[str]:
        if not isinstance(msg, dict):
            return [rpc(id=None, error={"code": -32600, "message": "not a request"})]
        method, request_id, params = msg.get("method"), msg.get("id"), msg.get("params") or {}
        if method is None:  # a response to our ping
            count("client_pongs")
            return []
        if request_id is None:
            count(f"notification:{method}")
            return []
        if OPTIONS.protocol == "mcp":
            return self.mcp(request_id, method, params)
        return self.call(request_id, method, params)

    def call(self, request_id: Any, tool: str, params: Any) -> list[str]:
        count(f"calls:{tool}")
        if tool == "echo":
            count("results_ok")
            return [rpc(id=request_id, result=params)]
        if tool == "notify":
            count("notifications_sent")
            count("results_ok")
            note = rpc(method="eth_subscription", params={"subscription": "0x1", "result": {"n": 1}})
            return [note, rpc(id=request_id, result=True)]
        code = -32000 if tool == "fail" else -32601
        count(f"errors:{code}")
        message = "failed on request" if tool == "fail" else "Method not found"
        return [rpc(id=request_id, error={"code": code, "message": message})]

    def mcp(self, request_id: Any, method: str, params: Any) -> list[str]:
        if method == "initialize":
            count("initialize")
            version = params.get("protocolVersion")
            info = {"protocolVersion": version, "capabilities": {"tools": {}}, "serverInfo": {"name": "wsproto-mcp"}}
            self.pings += 1  # ask the client for a pong right after the handshake
            return [rpc(id=request_id, result=info), rpc(id=f"srv-ping-{self.pings}", method="ping")]
        if method != "tools/call":
            return [rpc(id=request_id, error={"code": -32601, "message": "Method not found"})]
        tool = params.get("name")
        count(f"calls:{tool}")
        text = json.dumps(params.get("arguments"))
        if tool == "echo":
            count("results_ok")
            return [rpc(id=request_id, result={"content": [{"type": "text", "text": text}], "isError": False})]
        if tool == "notify":
            count("notifications_sent", 2)
            count("results_ok")
            progress = rpc(method="notifications/progress", params={"progressToken": request_id, "progress": 1})
            log = rpc(method="notifications/message", params={"level": "info", "data": "working"})
            done = rpc(id=request_id, result={"content": [{"type": "text", "text": "done"}], "isError": False})
            return [progress, log, done]
        if tool == "fail":
            count("results_is_error")
            return [rpc(id=request_id, result={"content": [{"type": "text", "text": "failed"}], "isError": True})]
        count("errors:-32602")
        return [rpc(id=request_id, error={"code": -32602, "message": f"Unknown tool: {tool}"})]


class Handler(socketserver.BaseRequestHandler):
    """wsproto over one blocking socket."""

    def handle(self) -> None:
        sock: socket.socket = self.request
        ws = WSConnection(ConnectionType.SERVER)
        session = Session()
        parts: list[str] = []
        while True:
            data = sock.recv(65536)
            ws.receive_data(data or None)
            out = b""
            for event in ws.events():
                if isinstance(event, Request):
                    out += self.accept(ws, event)
                elif isinstance(event, TextMessage):
                    parts.append(event.data)
                    if event.message_finished:
                        text, parts = "".join(parts), []
                        for answer in session.answer(json.loads(text)):
                            out += ws.send(Message(data=answer))
                elif isinstance(event, Ping):
                    out += ws.send(event.response())
                elif isinstance(event, CloseConnection):
                    out += ws.send(event.response())
                    sock.sendall(out)
                    return
            if out:
                sock.sendall(out)
            if not data:
                return

    @staticmethod
    def accept(ws: WSConnection, event: Request) -> bytes:
        count("connections")
        headers = {k.decode().lower(): v.decode() for k, v in event.extra_headers}
        if OPTIONS.token and headers.get("authorization") != f"Bearer {OPTIONS.token}":
            count("refused_token")
            return ws.send(RejectConnection(status_code=401, has_body=False))
        subprotocol = None
        if OPTIONS.protocol == "mcp":
            if "mcp" not in event.subprotocols:
                return ws.send(RejectConnection(status_code=400, has_body=False))
            subprotocol = "mcp"
        extensions = []
        if OPTIONS.deflate:
            extensions = [PerMessageDeflate(server_no_context_takeover=OPTIONS.no_context_takeover)]
            count("deflate_offered" if any("permessage-deflate" in e for e in event.extensions) else "plain")
        return ws.send(AcceptConnection(subprotocol=subprotocol, extensions=extensions))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--protocol", choices=("jsonrpc", "mcp"), default="jsonrpc")
    parser.add_argument("--deflate", action="store_true")
    parser.add_argument("--no-context-takeover", action="store_true")
    parser.add_argument("--token", default="")
    parser.add_argument("--counts", required=True)
    parser.parse_args(namespace=OPTIONS)
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(f"listening on ws://127.0.0.1:{server.server_address[1]}/", flush=True)
    server.serve_forever(poll_interval=0.05)
    with LOCK, open(OPTIONS.counts, "w") as f:
        json.dump(dict(COUNTS), f)


if __name__ == "__main__":
    main()
