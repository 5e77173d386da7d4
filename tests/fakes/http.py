"""What the fakes share: a server on 127.0.0.1, and JSON replies sent as a real server sends them."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


def refusing_url() -> str:
    """A URL on 127.0.0.1 where nothing listens: connections to it are refused, as to a third party
    that is down (a port the system just handed out and took back)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


class FakeServer:
    """A third party's API served from the test process, on 127.0.0.1 at a port the system picks.

    A fake calls `_listen(handler)` when it is made: the port is bound then, so `url` is known
    before `start()` (a worker's environment can be written first). Each request gets a daemon
    thread, so a reply held on purpose (a slow deploy) keeps neither `stop()` nor the test run waiting.
    """

    server: ThreadingHTTPServer
    thread: threading.Thread

    def _listen(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> Self:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class JSONHandler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep test output quiet
        pass

    def _reply(self, status: int, body) -> None:
        """`body` as JSON (bytes as they are, for a malformed reply)."""
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up first (a slow reply): as a real server, no traceback
