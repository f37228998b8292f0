"""The browser page's server: the page, its JavaScript runtimes and an export folder's artifacts.

``catalog(export_dir)`` checks the folder the way ``gan_edge.load`` would (every
.tflite/.onnx with a sidecar manifest whose sha256 matches) and lists what the
page can run; ``make_server(export_dir, port=..., host=...)`` returns a stdlib
``ThreadingHTTPServer`` that serves

- ``/`` and the page's own files, from ``firmware_examples/web`` (or ``$GAN_EDGE_WEB_DIR``);
- ``/vendor/<package>/...``: LiteRT.js and ONNX Runtime Web from that folder's ``node_modules``;
- ``/api/models``: the catalog as JSON; ``/models/<file>``: only the files it lists;
- ``POST /api/report``: results the page sends back (test mode, benchmarks), handed
  to ``on_report`` and kept in ``server.reports`` (a ``queue.Queue``).

Nothing is fetched from elsewhere: the page loads only what this server serves.
Needs only the standard library and gan_edge's manifest (no TensorFlow).
"""

from __future__ import annotations

import json
import mimetypes
import os
import queue
import sys
from dataclasses import dataclass
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import unquote, urlsplit

from gan_edge.errors import BackendUnavailable, InputError, ModelFileError
from gan_edge.artifact import read_manifest
from gan_edge.manifest import SIDECAR_SUFFIX

__all__ = ["WebArtifact", "catalog", "find_page_dir", "make_server", "NPM_CI"]

MODEL_SUFFIXES = (".tflite", ".onnx")
# The npm packages the page imports; only these are served from node_modules.
VENDOR_PACKAGES = ("@litertjs/core", "@litertjs/wasm-utils", "onnxruntime-web")
PAGE_FILES = ("index.html", "app.js", "runtime.js", "latent.js", "draw.js", "stats.js")
NPM_CI = "npm ci --prefix firmware_examples/web"
_MAX_REPORT_BYTES = 64 << 20
_INT8_INPUT_NOTE = (
    "int8 inputs: LiteRT.js and ONNX Runtime Web take float32 latents, so this model "
    "cannot be fed in a browser; export int8-float-io for the web "
    "(gan-edge export RUN --formats int8-float-io --batch 8)"
)
_DYNAMIC_BATCH_NOTE = (
    "dynamic batch: LiteRT.js runs static shapes only; export a static batch for the web "
    "(gan-edge export RUN --batch 8 writes *_b8.tflite beside it)"
)


@dataclass(frozen=True)
class WebArtifact:
    """One generator the page can list: its file, runtime and manifest."""

    file: str
    runtime: str  # "litertjs" (.tflite) or "ort-web" (.onnx)
    size: int
    manifest: dict
    browser_note: str | None  # why a browser runtime will refuse it, or None

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "url": f"/models/{self.file}",
            "runtime": self.runtime,
            "size": self.size,
            "manifest": self.manifest,
            "browser_note": self.browser_note,
        }


def find_page_dir() -> Path:
    """The page's folder: ``$GAN_EDGE_WEB_DIR``, else ``firmware_examples/web`` of this checkout."""
    configured = os.environ.get("GAN_EDGE_WEB_DIR")
    folder = Path(configured) if configured else Path(__file__).resolve().parents[1] / "firmware_examples" / "web"
    if not (folder / "index.html").is_file():
        where = "$GAN_EDGE_WEB_DIR" if configured else "this checkout"
        raise BackendUnavailable(
            f"no web page at {folder} ({where}): set GAN_EDGE_WEB_DIR to a copy of the "
            f"repository's firmware_examples/web folder"
        )
    missing = [p for p in VENDOR_PACKAGES if not (folder / "node_modules" / p / "package.json").is_file()]
    if missing:
        raise BackendUnavailable(
            f"the page's JavaScript packages are not installed in {folder / 'node_modules'} "
            f"(missing {', '.join(missing)}): run `{NPM_CI}` (needs npm)"
        )
    return folder


def catalog(export_dir: str | os.PathLike) -> list[WebArtifact]:
    """Every generator in ``export_dir`` with a verified manifest, sorted by file name.

    Raises ``InputError`` when the folder does not exist, ``ModelFileError`` when it
    holds no generator with a manifest, ``ManifestError`` when a model's file does
    not match its manifest's sha256 (all refused before anything is served).
    """
    folder = Path(export_dir)
    if not folder.is_dir():
        raise InputError(f"export folder {folder} does not exist: pass a folder written by `gan-edge export`")
    models = sorted(p for p in folder.iterdir() if p.suffix in MODEL_SUFFIXES and p.is_file())
    with_manifest = [p for p in models if p.with_name(p.name + SIDECAR_SUFFIX).is_file()]
    if not with_manifest:
        found = f"{len(models)} model file(s) but no {SIDECAR_SUFFIX} beside them" if models else "no .tflite or .onnx file"
        raise ModelFileError(
            f"no generator with a manifest in {folder}: found {found}; "
            f"run `gan-edge export RUN_DIR --out {folder}`"
        )
    artifacts = []
    for path in with_manifest:
        manifest = read_manifest(path)  # checks the sha256 and the file: a changed model is refused here
        note = None
        if manifest.input_dtype == "int8":
            note = _INT8_INPUT_NOTE
        elif manifest.format == "tflite" and manifest.batch_size is None:
            note = _DYNAMIC_BATCH_NOTE
        artifacts.append(
            WebArtifact(
                file=path.name,
                runtime="litertjs" if path.suffix == ".tflite" else "ort-web",
                size=path.stat().st_size,
                manifest=manifest.to_dict(),
                browser_note=note,
            )
        )
    return artifacts


class _Handler(SimpleHTTPRequestHandler):
    """Serves from three roots only; everything else is 404."""

    server: "_WebServer"

    def end_headers(self) -> None:
        # Cross-origin isolation: fine-grained performance.now() (5 us, not 100 us)
        # and threaded WebAssembly, where the browser grants them (secure contexts).
        self.send_header("Cross-Origin-Opener-Policy", "same-origin")
        self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        pass  # the CLI prints what matters; per-request lines drown it

    def guess_type(self, path):  # noqa: D401 - stdlib hook
        if str(path).endswith((".js", ".mjs")):
            return "text/javascript"
        if str(path).endswith(".wasm"):
            return "application/wasm"
        return mimetypes.guess_type(str(path))[0] or "application/octet-stream"

    def translate_path(self, path: str) -> str:
        parts = unquote(urlsplit(path).path).lstrip("/").split("/")
        if ".." in parts or any("\\" in p for p in parts):
            return ""
        server = self.server
        if parts in ([""], ["index.html"]):
            return str(server.page_dir / "index.html")
        if len(parts) == 1 and parts[0] in PAGE_FILES:
            return str(server.page_dir / parts[0])
        if parts[0] == "models" and len(parts) == 2 and parts[1] in server.served_models:
            return str(server.export_dir / parts[1])
        if parts[0] == "vendor":
            rest = "/".join(parts[1:])
            if any(rest.startswith(p + "/") for p in VENDOR_PACKAGES):
                return str(server.page_dir / "node_modules" / rest)
        return ""

    def send_head(self):
        target = self.translate_path(self.path)
        if not target or os.path.isdir(target):  # no directory listings
            self.send_error(HTTPStatus.NOT_FOUND)
            return None
        return super().send_head()

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        if urlsplit(self.path).path == "/api/models":
            body = json.dumps(
                {"export_dir": self.server.export_dir.name, "models": [a.to_dict() for a in self.server.artifacts]}
            ).encode()
            self._send_json(body)
            return
        super().do_GET()

    def do_POST(self) -> None:  # noqa: N802
        if urlsplit(self.path).path != "/api/report":
            self.send_error(HTTPStatus.NOT_FOUND)
            return
        length = int(self.headers.get("Content-Length") or 0)
        if not 0 < length <= _MAX_REPORT_BYTES:
            self.send_error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
            return
        try:
            report = json.loads(self.rfile.read(length))
        except (UnicodeDecodeError, json.JSONDecodeError):
            self.send_error(HTTPStatus.BAD_REQUEST)
            return
        self.server.reports.put(report)
        if self.server.on_report is not None:
            self.server.on_report(report)
        self._send_json(b"{}")

    def _send_json(self, body: bytes) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _WebServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, export_dir: Path, page_dir: Path, artifacts, on_report) -> None:
        self.export_dir = export_dir
        self.page_dir = page_dir
        self.artifacts = artifacts
        self.served_models = {a.file for a in artifacts} | {a.file + SIDECAR_SUFFIX for a in artifacts}
        self.reports: queue.Queue = queue.Queue()
        self.on_report = on_report
        super().__init__(address, partial(_Handler, directory=str(page_dir)))

    def handle_error(self, request, client_address) -> None:
        # A browser closing a connection mid-download (a page navigated away, a
        # test's Chromium stopped) is not an error worth a traceback.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"


def make_server(
    export_dir: str | os.PathLike,
    *,
    port: int = 8000,
    host: str = "127.0.0.1",
    on_report: Callable[[dict], None] | None = None,
) -> _WebServer:
    """A server for ``export_dir``'s generators, bound but not yet serving.

    Call ``serve_forever()`` (in a thread for tests) and ``server_close()`` after.
    ``port=0`` picks a free port (read it back from ``server.url``). A port in use
    raises ``InputError`` naming it.
    """
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise InputError(f"port must be an int in 0..65535, got {port!r}")
    export_dir = Path(export_dir)
    artifacts = catalog(export_dir)
    page_dir = find_page_dir()
    try:
        return _WebServer((host, port), export_dir.resolve(), page_dir, artifacts, on_report)
    except OSError as exc:
        raise InputError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}; pass another --port "
            f"(or --port 0 for any free one)"
        ) from None
