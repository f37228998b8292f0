"""The HTTP side of ``gan-edge web``: what is served, what is accepted, and how much of both.

Built by ``gan_edge.web.make_server``; a stdlib ``ThreadingHTTPServer`` hardened for a
page that anyone on the network (``--host 0.0.0.0``), or any web page the user opens,
can reach:

- the models, their manifests and the catalog are bytes held in memory, the ones that
  were checked at start-up: a file changed or swapped on disk later is never served;
- the page's ``index.html`` and ``*.js`` and the runtimes' files under ``/vendor/<package>/``
  are read from their folders; any other path, a ``..``, a NUL, a folder: 404;
- ``POST /api/report`` takes one JSON object of at most ``MAX_REPORT_BYTES``, from the
  page's own origin only; the last ``REPORTS_KEPT`` are kept when no callback takes them;
- at most ``MAX_CONNECTIONS`` connections hold a thread; when a new one arrives beyond
  that, the oldest connection that has not sent its request yet is closed for it, and
  every socket times out after ``CONNECTION_TIMEOUT_S``.

No refusal prints a traceback; the per-request log is silent (the CLI prints what matters).
"""

from __future__ import annotations

import io
import json
import mimetypes
import os
import queue
import socket
import sys
import threading
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import unquote, urlsplit

__all__ = ["WebServer", "MAX_REPORT_BYTES", "REPORTS_KEPT", "MAX_CONNECTIONS", "CONNECTION_TIMEOUT_S"]

# The page's largest report is a test result: latents and outputs as base64, twice the
# outputs when WebGPU is checked against WebAssembly. At the largest pictures (12 samples of
# 128x128x3 float32) that is about 6.3 MB; a DCGAN's on MNIST about 50 KB, a bench row under
# 2 KB. A result over the limit reaches the reader without its arrays, with the reason.
MAX_REPORT_BYTES = 8 << 20
# Reports wait here only until a reader (the browser test's driver) takes them.
REPORTS_KEPT = 32
# A page load opens a handful of connections; a phone and a laptop together, a few dozen.
MAX_CONNECTIONS = 64
# Per socket operation, not per download: a slow phone still receives a 10 MB .wasm as long
# as each chunk moves within this time; a connection that sends nothing is closed after it.
CONNECTION_TIMEOUT_S = 15
# How long a new connection waits for the idle one it displaces to let go of its thread.
_EVICTION_WAIT_S = 2.0


class _Refused(Exception):
    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


def _hang_up(connection: socket.socket) -> None:
    try:
        connection.shutdown(socket.SHUT_RDWR)  # its handler's blocked read returns at once
    except OSError:
        pass  # already closed by its own thread


class _Handler(SimpleHTTPRequestHandler):
    server: "WebServer"
    timeout = CONNECTION_TIMEOUT_S

    def end_headers(self) -> None:
        # Cross-origin isolation: fine-grained performance.now() (5 us, not 100 us)
        # and threaded WebAssembly, where the browser grants them (secure contexts).
        self.send_header("Cross-Origin-Opener-Policy", "same-origin")
        self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        pass  # the CLI prints what matters; per-request lines drown it

    def parse_request(self) -> bool:
        # Its request line has arrived: from here it is served, not displaced. (HTTP/1.0: one
        # request per connection, so a connection is idle only until this point.)
        self.server.connection_busy(self.connection)
        return super().parse_request()

    def guess_type(self, path):  # noqa: D401 - stdlib hook
        if str(path).endswith((".js", ".mjs")):
            return "text/javascript"
        if str(path).endswith(".wasm"):
            return "application/wasm"
        return mimetypes.guess_type(str(path))[0] or "application/octet-stream"

    def translate_path(self, path: str) -> str:
        """The file behind ``path``: a page file or a runtime's file, else ""."""
        parts = unquote(urlsplit(path).path).lstrip("/").split("/")
        if any(p in (".", "..") or "\\" in p or "\x00" in p for p in parts):
            return ""
        server = self.server
        if parts == [""]:
            parts = ["index.html"]
        if len(parts) == 1 and parts[0] in server.page_files:
            return str(server.page_dir / parts[0])
        if parts[0] == "vendor":
            for name, folder in server.runtimes.items():
                prefix = name.split("/")
                rest = parts[1 + len(prefix):]
                if parts[1:1 + len(prefix)] == prefix and rest and all(rest):
                    return str(folder.joinpath(*rest))
        return ""

    def send_head(self):
        held = self.server.in_memory.get(unquote(urlsplit(self.path).path))
        if held is not None:
            body, content_type = held
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            return io.BytesIO(body)
        target = self.translate_path(self.path)
        if not target or os.path.isdir(target):  # no directory listings
            self.send_error(HTTPStatus.NOT_FOUND)
            return None
        return super().send_head()

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        try:
            report = self._read_report()
        except _Refused as refused:
            self.close_connection = True  # an unread body must not be taken for a next request
            self._send_json({"error": str(refused)}, refused.status)
            return
        self.server.take_report(report)
        self._send_json({}, HTTPStatus.OK)

    def _read_report(self) -> dict:
        if urlsplit(self.path).path != "/api/report":
            raise _Refused(HTTPStatus.NOT_FOUND, f"nothing to POST at {self.path[:100]!r}: only /api/report")
        own = f"http://{self.headers.get('Host', '')}"
        origin = self.headers.get("Origin")
        # Any page the user opens can POST here; a browser names that page's origin, so only
        # the page this server serves gets its rows printed.
        if origin is not None and origin != own:
            raise _Refused(HTTPStatus.FORBIDDEN, f"reports from origin {origin[:100]!r} are refused: only {own[:100]}")
        if self.headers.get_content_type() != "application/json":
            raise _Refused(
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                f"a report is application/json, got {self.headers.get('Content-Type', 'no Content-Type')[:100]!r}",
            )
        declared = self.headers.get("Content-Length")
        if declared is None:
            raise _Refused(HTTPStatus.LENGTH_REQUIRED, "a report needs a Content-Length")
        if not (declared.isascii() and declared.isdigit()) or int(declared) == 0:
            raise _Refused(HTTPStatus.BAD_REQUEST, f"Content-Length must be a positive integer, got {declared[:40]!r}")
        length = int(declared)
        if length > MAX_REPORT_BYTES:
            raise _Refused(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"a report is at most {MAX_REPORT_BYTES:,} bytes, got {length:,}"
            )
        body = self.rfile.read(length)
        try:
            report = json.loads(body.decode("utf-8"))
        # ValueError: not JSON, or an integer too long for Python; RecursionError: nesting.
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise _Refused(HTTPStatus.BAD_REQUEST, f"a report is JSON text: {str(exc)[:200]}") from None
        if not isinstance(report, dict):
            raise _Refused(HTTPStatus.BAD_REQUEST, f"a report is a JSON object, got a {type(report).__name__}")
        return report

    def _send_json(self, obj: dict, status: HTTPStatus) -> None:
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class WebServer(ThreadingHTTPServer):
    """The running page server; ``make_server`` builds it (see the module docstring)."""

    daemon_threads = True
    # The kernel's queue of connections not yet accepted: they cost a few hundred bytes each,
    # no thread. At the stdlib's 5, each connection of a burst beyond it waits a SYN retry (1 s).
    request_queue_size = 512

    def __init__(
        self,
        address: tuple[str, int],
        *,
        page_dir: Path,
        runtimes: dict[str, Path],
        in_memory: dict[str, tuple[bytes, str]],
        artifacts: list,
        on_report: Callable[[dict], None] | None,
    ) -> None:
        self.page_dir = page_dir
        self.page_files = frozenset(
            p.name for p in page_dir.iterdir() if p.name == "index.html" or p.suffix == ".js"
        )
        self.runtimes = runtimes
        self.in_memory = in_memory
        self.artifacts = artifacts
        self.on_report = on_report
        self.reports: queue.Queue = queue.Queue(maxsize=REPORTS_KEPT)
        self._reports_lock = threading.Lock()
        self._connections = threading.Condition()
        self._open = 0
        self._idle: dict[socket.socket, None] = {}  # oldest first
        super().__init__(address, _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"

    def take_report(self, report: dict) -> None:
        """Hand ``report`` to ``on_report``; without one, keep it (the oldest dropped beyond REPORTS_KEPT)."""
        if self.on_report is not None:
            self.on_report(report)
            return
        with self._reports_lock:
            while True:
                try:
                    self.reports.put_nowait(report)
                    return
                except queue.Full:
                    try:
                        self.reports.get_nowait()
                    except queue.Empty:
                        pass

    # --- connections: at most MAX_CONNECTIONS threads -------------------------------

    def process_request(self, request, client_address) -> None:
        if not self._admit(request):
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._release(request)
            raise

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._release(request)

    def _admit(self, request: socket.socket) -> bool:
        with self._connections:
            if self._open >= MAX_CONNECTIONS:
                if not self._idle:
                    return False  # every thread is serving a request: refuse rather than queue
                oldest = next(iter(self._idle))
                del self._idle[oldest]
                _hang_up(oldest)
                if not self._connections.wait_for(lambda: self._open < MAX_CONNECTIONS, _EVICTION_WAIT_S):
                    return False
            self._open += 1
            self._idle[request] = None
            return True

    def _release(self, request: socket.socket) -> None:
        with self._connections:
            self._idle.pop(request, None)
            self._open -= 1
            self._connections.notify_all()

    def connection_busy(self, connection: socket.socket) -> None:
        with self._connections:
            self._idle.pop(connection, None)

    def handle_error(self, request, client_address) -> None:
        # A browser closing a connection mid-download (a page navigated away, a test's
        # Chromium stopped), a connection displaced or timed out: not worth a traceback.
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)
