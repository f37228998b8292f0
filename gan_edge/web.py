"""``gan-edge web``: the browser page, its JavaScript runtimes and an export folder's artifacts.

``catalog(export_dir)`` checks the folder the way ``gan_edge.load`` would (every
.tflite/.onnx with a sidecar manifest whose sha256 matches) and lists what the
page can run; ``make_server(export_dir, port=..., host=...)`` returns a stdlib
``ThreadingHTTPServer`` (``gan_edge.web_server``) that serves

- ``/`` and the page's own files, from the package ``gan_edge.web_page`` (or ``$GAN_EDGE_WEB_DIR``);
- ``/vendor/<package>/...``: LiteRT.js and ONNX Runtime Web at the versions the page's
  lock file pins (``gan_edge.web_vendor``: ``node_modules`` in a checkout, else the user cache);
- ``/api/models``: the catalog as JSON; ``/models/<file>``: only the files it lists, as
  the bytes that were checked;
- ``POST /api/report``: results the page sends back (test mode, benchmarks), handed
  to ``on_report``, or else kept in ``server.reports`` (a bounded ``queue.Queue``).

Nothing is fetched from elsewhere by the page: it loads only what this server serves.
Needs only the standard library and gan_edge's manifest (no TensorFlow).
"""

from __future__ import annotations

import importlib.resources
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from gan_edge.artifact import open_artifact
from gan_edge.errors import BackendUnavailable, InputError, ModelFileError
from gan_edge.manifest import SIDECAR_SUFFIX
from gan_edge.web_server import WebServer
from gan_edge.web_vendor import NPM_CI, VENDOR_PACKAGES, find_runtimes

__all__ = ["WebArtifact", "catalog", "find_page_dir", "make_server", "NPM_CI", "VENDOR_PACKAGES"]

MODEL_SUFFIXES = (".tflite", ".onnx")
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
    """One generator the page can list: its file, runtime, manifest, and the bytes that were checked."""

    file: str
    runtime: str  # "litertjs" (.tflite) or "ort-web" (.onnx)
    size: int
    manifest: dict
    browser_note: str | None  # why a browser runtime will refuse it, or None
    data: bytes = field(default=b"", repr=False, compare=False)

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
    """The page's folder: ``$GAN_EDGE_WEB_DIR``, else the installed package ``gan_edge.web_page``.

    In a checkout (an editable install) the package is ``firmware_examples/web``; in a
    wheel, its package data. The runtimes it imports are not in it: ``gan_edge.web_vendor``.
    """
    configured = os.environ.get("GAN_EDGE_WEB_DIR")
    if configured:
        folder, where = Path(configured), "$GAN_EDGE_WEB_DIR"
    else:
        folder, where = Path(str(importlib.resources.files("gan_edge.web_page"))), "the package gan_edge.web_page"
    if not (folder / "index.html").is_file():
        raise BackendUnavailable(
            f"no web page at {folder} ({where}): set GAN_EDGE_WEB_DIR to a copy of the "
            f"repository's firmware_examples/web folder, or reinstall gan-edge"
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
        artifact = open_artifact(path)  # read once and checked (sha256, structure): a changed model stops here
        manifest = artifact.manifest
        note = None
        if manifest.input_dtype == "int8":
            note = _INT8_INPUT_NOTE
        elif manifest.format == "tflite" and manifest.batch_size is None:
            note = _DYNAMIC_BATCH_NOTE
        artifacts.append(
            WebArtifact(
                file=path.name,
                runtime="litertjs" if path.suffix == ".tflite" else "ort-web",
                size=len(artifact.data),
                manifest=manifest.to_dict(),
                browser_note=note,
                data=artifact.data,
            )
        )
    return artifacts


def _in_memory(export_dir: Path, artifacts: list[WebArtifact]) -> dict[str, tuple[bytes, str]]:
    """URL path -> (body, content type): the catalog, and each model and manifest as checked."""
    listing = {"export_dir": export_dir.name, "models": [a.to_dict() for a in artifacts]}
    held = {"/api/models": (json.dumps(listing).encode(), "application/json")}
    for artifact in artifacts:
        held[f"/models/{artifact.file}"] = (artifact.data, "application/octet-stream")
        # The manifest that was checked against those bytes, in the sidecar's own layout.
        sidecar = json.dumps(artifact.manifest, indent=2, sort_keys=True) + "\n"
        held[f"/models/{artifact.file}{SIDECAR_SUFFIX}"] = (sidecar.encode(), "application/json")
    return held


def make_server(
    export_dir: str | os.PathLike,
    *,
    port: int = 8000,
    host: str = "127.0.0.1",
    on_report: Callable[[dict], None] | None = None,
    fetch: bool = False,
    on_fetch: Callable[[str], None] | None = None,
) -> WebServer:
    """A server for ``export_dir``'s generators, bound but not yet serving.

    Call ``serve_forever()`` (in a thread for tests) and ``server_close()`` after.
    ``port=0`` picks a free port (read it back from ``server.url``). A port in use
    raises ``InputError`` naming it. The JavaScript runtimes must be in the page's
    ``node_modules`` or the user cache, unless ``fetch=True`` lets npm fetch them
    (``on_fetch`` gets the one line to show first; ``gan_edge.web_vendor``).
    """
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise InputError(f"port must be an int in 0..65535, got {port!r}")
    export_dir = Path(export_dir)
    artifacts = catalog(export_dir)
    page_dir = find_page_dir()
    runtimes = find_runtimes(page_dir, fetch=fetch, on_fetch=on_fetch)
    try:
        return WebServer(
            (host, port),
            page_dir=page_dir,
            runtimes=runtimes,
            in_memory=_in_memory(export_dir.resolve(), artifacts),
            artifacts=artifacts,
            on_report=on_report,
        )
    except OSError as exc:
        raise InputError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}; pass another --port "
            f"(or --port 0 for any free one)"
        ) from None
