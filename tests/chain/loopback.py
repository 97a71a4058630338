"""A real HTTP server on 127.0.0.1 in a thread, answering from a Python handler: stands in
for explorers and nodes that tests cannot reach, speaking their wire format."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures"


@dataclass
class Reply:
    status: int = 200
    body: bytes | str | Any = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0

    def encoded(self) -> tuple[bytes, str]:
        if isinstance(self.body, bytes):
            return self.body, "application/octet-stream"
        if isinstance(self.body, str):
            return self.body.encode(), "text/plain"
        return json.dumps(self.body).encode(), "application/json"


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


Handler = Callable[[Request], Reply]


class Loopback:
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[Request] = []
        self.stop_event = threading.Event()
        loopback = self

        class _H(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(
                    self.command, self.path, dict(self.headers), self.rfile.read(length)
                )
                loopback.requests.append(request)
                reply = loopback.handler(request)
                if reply.delay:
                    loopback.stop_event.wait(reply.delay)
                body, content_type = reply.encoded()
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.headers.pop("Content-Type", content_type))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = _serve
            do_POST = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _H)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]


@contextmanager
def serve(handler: Handler) -> Iterator[Loopback]:
    loopback = Loopback(handler)
    loopback.thread.start()
    try:
        yield loopback
    finally:
        loopback.stop_event.set()
        loopback.server.shutdown()
        loopback.server.server_close()


def esplora_handler(tip: int = 875_700) -> Callable[[Request], Reply]:
    """Replays the recorded Esplora answers; unknown txids get Esplora's 404."""
    esplora = FIXTURES / "esplora"
    txs = {
        "9d3ea0d131c45450c135d549b62032019bc47a80368e14edc72caf38f5a88033": "tx_9d3ea0d1",
        "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16": "tx_f4184fc5",
    }

    def handle(request: Request) -> Reply:
        parts = request.path.strip("/").split("/")
        if parts == ["blocks", "tip", "height"]:
            return Reply(body=str(tip))
        if len(parts) >= 2 and parts[0] == "tx":
            name = txs.get(parts[1])
            if name is None:
                if len(parts[1]) != 64:
                    return Reply(400, "Invalid hex string")
                return Reply(404, "Transaction not found")
            tx = json.loads((esplora / f"{name}.json").read_text())
            if len(parts) == 2:
                return Reply(body=tx)
            if parts[2] == "status":
                return Reply(body=tx["status"])
            if parts[2] == "hex":
                return Reply(body=(esplora / f"{name}.hex").read_text().strip())
            if parts[2] == "merkle-proof":
                return Reply(
                    body=json.loads((esplora / f"merkle_proof_{name[3:]}.json").read_text())
                )
        if len(parts) == 3 and parts[0] == "block" and parts[2] == "header":
            if parts[1] == "00000000d1145790a8694403d4063f323d499e655c83426834d4ce2f8dd4a2ee":
                return Reply(body=(esplora / "block_170_header.hex").read_text().strip())
            return Reply(404, "Block not found")
        return Reply(404, "Not Found")

    return handle


def basic_auth(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Basic "):
        return None
    user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    return user, password
