"""``gan-edge web EXPORT_DIR``: the browser page for an export folder's generators.

Serves the page (the package ``gan_edge.web_page``), LiteRT.js / ONNX Runtime Web and the
folder's artifacts from this machine only; ``--host 0.0.0.0`` lets a phone on the
same network open it (with a warning: so can anyone else there). The runtimes come from
a checkout's ``node_modules`` or the user cache; the first run fetches them with npm
(``gan_edge.web_vendor``) unless ``--no-fetch``. Results the page sends back (its
benchmark) are printed as JSON lines, so a phone's figures end up in this terminal.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import socket
import sys
from pathlib import Path


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("web", help="serve the browser page for an export folder's generators")
    parser.add_argument("export_dir", type=Path, help="a folder written by `gan-edge export`")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000; 0: any free one)")
    parser.add_argument(
        "--host", default="127.0.0.1",
        help="address to bind (default 127.0.0.1, this machine only; 0.0.0.0: the local network too)",
    )
    parser.add_argument(
        "--no-fetch", action="store_true",
        help="refuse, rather than fetch with npm, when the page's JavaScript runtimes are not here yet",
    )
    parser.set_defaults(run=run)


def is_loopback(host: str) -> bool:
    """True when binding ``host`` keeps the server to this machine."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _lan_address() -> str | None:
    """This machine's address on the local network (no packet is sent), or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: only picks the outgoing interface
            return probe.getsockname()[0]
        except OSError:
            return None


def _print_report(report: dict) -> None:
    if report.get("kind") == "bench":
        print(json.dumps(report.get("row", report)), flush=True)


def _print_fetching(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    from gan_edge.web import make_server

    server = make_server(
        args.export_dir, port=args.port, host=args.host, on_report=_print_report,
        fetch=not args.no_fetch, on_fetch=_print_fetching,
    )
    host, port = server.server_address[:2]
    if not is_loopback(host):
        print(
            f"gan-edge web: warning: listening on {host}:{port}, not only this machine: anyone on the network "
            f"can open the page and download the generators (--host 127.0.0.1 keeps it to this machine)",
            file=sys.stderr, flush=True,
        )
    names = ", ".join(a.file for a in server.artifacts)
    print(f"serving {len(server.artifacts)} generator(s) from {args.export_dir}: {names}")
    print(f"open http://127.0.0.1:{port}/ (Ctrl-C stops)" if host in ("127.0.0.1", "0.0.0.0") else f"open http://{host}:{port}/")
    if host == "0.0.0.0":
        lan = _lan_address()
        if lan:
            print(
                f"on a phone on the same network: http://{lan}:{port}/ (WebAssembly; for WebGPU the page "
                f"needs a secure origin: `adb reverse tcp:{port} tcp:{port}` and open http://localhost:{port}/)"
            )
    print("benchmark rows the page sends back are printed below as JSON lines", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0
