"""The fake SMS gateway the tests serve: ``http.server.ThreadingHTTPServer`` on
127.0.0.1, a free port, in a thread; it records each request and answers as told."""

from __future__ import annotations

import collections
import itertools
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    """One request as the gateway saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Reply:
    """What the gateway answers: a status, a body (bytes as they are, anything else as
    JSON), headers, and a delay before it answers."""

    status: int = 200
    body: object = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class FakeGateway:
    """Answers each request with the next reply it was told (:meth:`answer`), and then
    ``200 {"id": "sms-N"}``."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self._replies: collections.deque[Reply] = collections.deque()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        # set when the test ends: a slow reply stops waiting, so the server stops at once
        self._stop = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1/messages"

    def answer(self, *replies: Reply) -> None:
        with self._lock:
            self._replies.extend(replies)

    def _next(self, request: Received) -> Reply:
        with self._lock:
            self.received.append(request)
            if self._replies:
                return self._replies.popleft()
            return Reply(200, {"id": f"sms-{next(self._ids)}", "status": "accepted"})

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                received = Received(
                    self.command, self.path, dict(self.headers.items()), self.rfile.read(length)
                )
                reply = gateway._next(received)
                if reply.delay and gateway._stop.wait(reply.delay):
                    self.close_connection = True
                    return
                if isinstance(reply.body, bytes):
                    body = reply.body
                else:
                    body = b"" if reply.body is None else json.dumps(reply.body).encode()
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:  # the client gave up (its timeout): nothing to answer
                    self.close_connection = True

            do_GET = do_POST  # a followed redirect would arrive as a GET

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet

        return Handler

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
