"""Headless Chromium through the page: the browser test's and the browser benchmark's driver.

``run_page(server, query)`` opens ``server.url?query`` in headless Chromium and
returns the reports the page POSTs back (``gan_edge.web``), up to the one whose
``kind`` is ``until`` ("done" for the page's test mode, "ready" for a drawn page);
``screenshot=PATH`` then saves a PNG of the page through the DevTools protocol over
a pipe (no extra Python package). WebGPU is switched on with ``WEBGPU_FLAGS``:
on a machine without a GPU Chromium offers its software adapter (SwiftShader),
which the page reports in its ``done`` report.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from gan_edge.errors import BackendUnavailable, GanEdgeError

__all__ = ["CHROMIUM_NAMES", "WEBGPU_FLAGS", "find_chromium", "run_page"]

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# WebGPU without a GPU: Chromium's Vulkan backend on SwiftShader, a software adapter.
WEBGPU_FLAGS = (
    "--enable-unsafe-webgpu",
    "--enable-features=Vulkan",
    "--use-angle=swiftshader",
    "--use-webgpu-adapter=swiftshader",
)


def find_chromium() -> str:
    """``$GAN_EDGE_CHROMIUM`` or the first Chromium on PATH; raises naming how to get one."""
    configured = os.environ.get("GAN_EDGE_CHROMIUM")
    if configured:
        if shutil.which(configured):
            return shutil.which(configured)
        raise BackendUnavailable(f"GAN_EDGE_CHROMIUM={configured!r} is not an executable")
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    raise BackendUnavailable(
        f"no Chromium on PATH (looked for {', '.join(CHROMIUM_NAMES)}): apt-get install chromium, "
        f"or set GAN_EDGE_CHROMIUM"
    )


def run_page(
    server,
    query: dict[str, Any],
    *,
    until: str = "done",
    timeout_s: float = 120.0,
    screenshot: str | os.PathLike | None = None,
    window: tuple[int, int] = (900, 1100),
    webgpu: bool = True,
) -> list[dict]:
    """Open the page with ``query`` and return its reports, the ``until`` one last.

    ``server`` is a running ``gan_edge.web.make_server`` server. Raises
    ``GanEdgeError`` naming the last report when ``timeout_s`` passes first.
    """
    chromium = find_chromium()
    url = server.url + "?" + urlencode(query)
    while not server.reports.empty():  # drop what an earlier page left
        server.reports.get_nowait()
    with tempfile.TemporaryDirectory(prefix="gan-edge-chromium-") as profile:
        args = [
            chromium, "--headless=new", f"--user-data-dir={profile}", f"--window-size={window[0]},{window[1]}",
            "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--hide-scrollbars",
            *(WEBGPU_FLAGS if webgpu else ()),
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            args.append("--no-sandbox")  # Chromium refuses to start as root with its sandbox
        cdp = _Cdp(args + ["--remote-debugging-pipe", url])
        try:
            reports = _collect(server, cdp.process, until, timeout_s)
            if screenshot is not None:
                Path(screenshot).write_bytes(cdp.screenshot())
        finally:
            cdp.close()
    return reports


def _collect(server, process: subprocess.Popen, until: str, timeout_s: float) -> list[dict]:
    reports: list[dict] = []
    deadline = time.monotonic() + timeout_s
    while True:
        left = deadline - time.monotonic()
        if process.poll() is not None:
            raise GanEdgeError(f"Chromium exited with status {process.returncode} before the page reported {until!r}")
        try:
            report = server.reports.get(timeout=max(0.0, min(left, 0.5)))
        except queue.Empty:
            if left <= 0:
                last = json.dumps(reports[-1])[:200] if reports else "nothing"
                raise GanEdgeError(
                    f"the page did not report {until!r} within {timeout_s:.0f} s; its last report: {last}"
                ) from None
            continue
        reports.append(report)
        if report.get("kind") == until:
            return reports


class _Cdp:
    """Chromium with the DevTools protocol on fds 3 (commands in) and 4 (replies out)."""

    def __init__(self, args: list[str]) -> None:
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        # bash puts the pipe ends on fds 3 and 4 (a preexec_fn would, but is not safe
        # while the server's threads run; dash takes single-digit fds only), closes the
        # originals, then execs Chromium.
        r, w = to_chrome_r, from_chrome_w  # via 190/191: either may itself be 3 or 4
        wiring = f'exec 190<&{r} 191>&{w} {r}<&- {w}>&-; exec "$@" 3<&190 4>&191 190<&- 191>&-'
        self.process = subprocess.Popen(
            [shutil.which("bash") or "/bin/bash", "-c", wiring, "bash", *args],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            pass_fds=(to_chrome_r, from_chrome_w), start_new_session=True,
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buffer = b""
        self._next_id = 0

    def call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        while True:
            while b"\0" not in self._buffer:
                chunk = os.read(self._from_chrome, 1 << 20)
                if not chunk:
                    raise GanEdgeError(f"Chromium closed the DevTools pipe during {method}")
                self._buffer += chunk
            raw, self._buffer = self._buffer.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise GanEdgeError(f"DevTools {method} failed: {reply['error'].get('message')}")
                return reply["result"]

    def screenshot(self) -> bytes:
        targets = self.call("Target.getTargets")["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        session = self.call("Target.attachToTarget", {"targetId": page["targetId"], "flatten": True})["sessionId"]
        shot = self.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": False}, session)
        return base64.b64decode(shot["data"])

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        try:  # Chromium's own children (GPU, renderer), in the session it was started in
            os.killpg(self.process.pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            pass
        for fd in (self._to_chrome, self._from_chrome):
            try:
                os.close(fd)
            except OSError:
                pass
