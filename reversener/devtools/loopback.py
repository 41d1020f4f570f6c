"""A threaded HTTP/1.1 JSON server on a free loopback port, the base of the scripted servers."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["LoopbackServer", "JSONHandler"]


class JSONHandler(BaseHTTPRequestHandler):
    # Keep-alive, as real servers speak it: a new connection per call capped the speed benchmark,
    # and without TCP_NODELAY each reply waits ~40 ms for a delayed ACK.
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def read_json(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")

    def send_json(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):  # keep test output clean
        pass


class LoopbackServer:
    """Serves `handler` on 127.0.0.1 from a daemon thread between __enter__ and __exit__."""

    def __init__(self, handler: type[JSONHandler]) -> None:
        self._server = _Server(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


class _Server(ThreadingHTTPServer):
    request_queue_size = 1024  # the default backlog of 5 overflowed at 64 calls in flight: 1 s SYN retries
    daemon_threads = True
