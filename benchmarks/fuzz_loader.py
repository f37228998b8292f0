"""Feed ``gan_edge.load`` hostile model files, on every backend, and count what reaches the caller.

    python benchmarks/fuzz_loader.py [EXPORT_DIR] [--count 2000] [--seed 0] [--jobs 2]
                                     [--timeout 10] [--raw] [--json FILE]

EXPORT_DIR holds exported generators with their manifests embedded (``gan-edge demo
--out DIR`` writes DIR/export; add ``--batch 1`` to an export for a static-batch model,
which the litert-compiled backend needs). Each .tflite and .onnx there is mutated
``--count`` times in all: bit flips, truncations, hostile values written over the
flatbuffer's offsets, vector lengths and indices (found by walking the real file
with ``gan_edge.tflite_file``) or over the protobuf's length fields, shuffled
chunks, zeroed regions, and single changed bytes of the weights. Each mutated file
is loaded in one of three ways (``MANIFESTS``):

    sidecar    with its sidecar manifest: the sidecar's sha256 must refuse it;
    embedded   without the sidecar: the embedded manifest's content hash must refuse it;
    rehashed   without the sidecar, the content hash recomputed after the mutation,
               as a hostile file would carry: the bytes reach gan_edge's checks and,
               past them, the native parsers (the interesting case for crashes).

and with every backend that reads it (``.tflite``: litert, and litert-compiled for a
static batch; ``.onnx``: onnxruntime). Each load and ``generate(2)`` runs in a child
process forked from this one (the runtimes are imported once, before any fork, and
no model is ever built in the parent), with an address-space limit and a timeout.
Outcomes:

    refused        a gan_edge error (GanEdgeError subclass): the wanted answer
    ran            accepted; output finite and of shape (2, *output_shape)
    wrong_output   accepted; output non-finite or of the wrong shape
    other_error    an exception that is not a gan_edge error (a bug: it escapes as a traceback)
    crash          the child died of a signal (a segfault reaches the caller)
    hang           the child was still running at the timeout

``--raw`` skips gan_edge's structural checks (gan_edge.artifact's verifier calls), to
show what the runtimes alone do with the rehashed files. The exit status is 1 if any
crash, hang or other_error was seen, or a weight change was not refused with a
manifest in place (sidecar or embedded), else 0.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import select
import shutil
import signal
import struct
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

OUTCOMES = ("refused", "ran", "wrong_output", "other_error", "crash", "hang")
STRATEGIES = ("bitflip", "truncate", "field", "shuffle", "zero", "weight")
MANIFESTS = ("sidecar", "embedded", "rehashed")
HOSTILE_U32 = (0, 1, 3, 4, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFFFFFC, 0x10000, 0x7FFF)


# --- mutations ----------------------------------------------------------------------


def tflite_fields(data: bytes) -> list[tuple[int, str]]:
    from gan_edge.tflite_file import verify_tflite

    trace: list[tuple[int, str]] = []
    verify_tflite(data, trace=trace)
    return trace


def onnx_fields(data: bytes) -> list[tuple[int, str]]:
    """Positions of the protobuf's length and varint fields, found by a recursive guess."""
    found: list[tuple[int, str]] = []

    def walk(start: int, end: int, depth: int) -> bool:
        pos = start
        while pos < end:
            key, pos = _varint(data, pos, end)
            if key is None or key >> 3 == 0:
                return False
            wire = key & 7
            if wire == 0:
                at = pos
                value, pos = _varint(data, pos, end)
                if value is None:
                    return False
                found.append((at, "varint"))
            elif wire == 2:
                at = pos
                length, pos = _varint(data, pos, end)
                if length is None or pos + length > end:
                    return False
                found.append((at, "length"))
                if depth < 12 and length:
                    mark = len(found)
                    if not walk(pos, pos + length, depth + 1):
                        del found[mark:]  # bytes or a string, not a message
                pos += length
            elif wire in (1, 5):
                pos += 8 if wire == 1 else 4
            else:
                return False
        return pos == end

    walk(0, len(data), 0)
    return found


def _varint(data: bytes, pos: int, end: int):
    """gan_edge.onnx_file's varint reader, with None for "not a varint" instead of an error:
    the walk above only guesses where messages are."""
    from gan_edge import onnx_file

    try:
        return onnx_file._varint(data, pos, end)
    except onnx_file._Invalid:
        return None, pos


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        out.append(b | (0x80 if value else 0))
        if not value:
            return bytes(out)


def weight_ranges(data: bytes, fmt: str) -> list[tuple[int, int]]:
    """Where the model's weights lie: constant buffers (not the manifest's), initializers' raw data."""
    from gan_edge.manifest import METADATA_KEY
    from gan_edge.onnx_file import initializer_ranges
    from gan_edge.tflite_file import buffer_ranges, tflite_metadata

    if fmt == "onnx":
        return [(a, b) for a, b in initializer_ranges(data) if b > a]
    manifest = tflite_metadata(data, METADATA_KEY)
    return [(a, b) for a, b in buffer_ranges(data) if b > a and data[a:b] != manifest]


def rehash(data: bytes, digest: str) -> bytes:
    """``data`` with its embedded content hash recomputed, as a hostile file would carry
    (unchanged when the mutation hit the hash itself)."""
    from gan_edge.export.embed import stamp_content_hash
    from gan_edge.manifest import UNSTAMPED, content_hash_marker

    marker = content_hash_marker(digest)
    if data.count(marker) != 1:
        return data
    return stamp_content_hash(data.replace(marker, content_hash_marker(UNSTAMPED)))


def mutate(data: bytes, fields: list[tuple[int, str]], weights: list[tuple[int, int]], fmt: str,
           strategy: str, rng: random.Random) -> bytes:
    buf = bytearray(data)
    n = len(buf)
    if strategy == "weight":  # one byte of one layer's weights: what a corrupted copy looks like
        start, end = rng.choice(weights)
        buf[rng.randrange(start, end)] ^= 1 << rng.randrange(8)
    elif strategy == "bitflip":
        for _ in range(rng.choice((1, 1, 2, 4, 8, 32))):
            i = rng.randrange(n)
            buf[i] ^= 1 << rng.randrange(8)
    elif strategy == "truncate":
        cut = rng.choice((rng.randrange(0, 16), rng.randrange(n), n - rng.randrange(1, 64)))
        buf = buf[: max(0, cut)]
    elif strategy == "field":
        for _ in range(rng.choice((1, 1, 1, 2, 3))):
            pos, kind = rng.choice(fields)
            if fmt == "tflite":
                old = struct.unpack_from("<I", buf, pos)[0] if pos + 4 <= n else 0
                if kind in ("vtable_size",):
                    value = rng.choice((0, 2, 3, 0xFFFF, 0x7FFF, old + 2, old + 64))
                    struct.pack_into("<H", buf, pos, value & 0xFFFF)
                    continue
                value = rng.choice(HOSTILE_U32 + (n, n - 4, n + 4, old + 4, old - 4, old * 2, old + 1,
                                                  rng.randrange(1 << 32)))
                width = 4 if pos + 4 <= n else 1
                if kind == "scalar" and rng.random() < 0.5:
                    width = 1  # a one-byte field: type, union type, opcode
                    value = rng.choice((0, 1, 0x7F, 0x80, 0xFF, rng.randrange(256)))
                buf[pos : pos + width] = (value & ((1 << (8 * width)) - 1)).to_bytes(width, "little")
            else:
                old, end = _varint(bytes(buf), pos, n)
                old = old or 0
                value = rng.choice((0, 1, old + 1, old * 2 + 7, (1 << 31) - 1, 1 << 32, (1 << 63) - 1,
                                    n, rng.randrange(1 << 40)))
                buf[pos:end] = _encode_varint(value % (1 << 64))
    elif strategy == "shuffle":
        k = rng.choice((2, 4, 8, 16))
        bounds = sorted(rng.sample(range(1, n), k - 1)) if n > k else []
        chunks = [buf[a:b] for a, b in zip([0, *bounds], [*bounds, n])]
        i, j = rng.sample(range(len(chunks)), 2) if len(chunks) > 1 else (0, 0)
        chunks[i], chunks[j] = chunks[j], chunks[i]
        buf = bytearray(b"".join(chunks))
    elif strategy == "zero":
        length = rng.choice((1, 4, 16, 64, 256, n // 4))
        start = rng.randrange(max(1, n - length))
        buf[start : start + length] = bytes(len(buf[start : start + length]))
    return bytes(buf)


# --- running one file in a forked child ------------------------------------------------


def _child(path: Path, backend: str, output_shape: tuple, raw: bool, write_fd: int) -> None:
    """In the forked child: load, generate(2), report one JSON line, _exit."""
    import gan_edge
    from gan_edge.errors import GanEdgeError

    if raw:
        import gan_edge.artifact as artifact

        artifact.verify_tflite = artifact.check_onnx_external_data = lambda *a, **k: None
    try:
        generator = gan_edge.load(path, backend=backend)
        out = generator.generate(2, seed=0)
        ok = isinstance(out, np.ndarray) and out.shape == (2, *output_shape) and bool(np.isfinite(out).all())
        result = {"outcome": "ran" if ok else "wrong_output",
                  "detail": f"shape {getattr(out, 'shape', None)}, finite {bool(np.isfinite(out).all())}"}
    except GanEdgeError as exc:
        result = {"outcome": "refused", "detail": f"{type(exc).__name__}: {str(exc)[:200]}"}
    except BaseException as exc:  # noqa: BLE001 - everything else is what we are hunting
        result = {"outcome": "other_error", "detail": f"{type(exc).__name__}: {str(exc)[:300]}"}
    os.write(write_fd, (json.dumps(result) + "\n").encode())
    os._exit(0)


class Runner:
    """Keeps up to ``jobs`` forked children in flight; each handles one file and exits."""

    def __init__(self, jobs: int, timeout: float, raw: bool, memory_bytes: int) -> None:
        self.jobs, self.timeout, self.raw, self.memory = jobs, timeout, raw, memory_bytes
        self.running: dict[int, tuple] = {}  # read fd -> (pid, started, job, chunks)
        self.results: list[dict] = []
        # A file's backends run side by side and finish in any order: its folder goes when
        # the last of its jobs has finished (a crash's copy is taken from it first).
        self.unfinished: dict[Path, int] = {}  # folder -> its jobs not yet finished

    def submit(self, job: dict) -> None:
        while len(self.running) >= self.jobs:
            self._poll()
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # child
            os.close(read_fd)
            try:
                resource.setrlimit(resource.RLIMIT_AS, (self.memory, self.memory))
                resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
                _child(Path(job["path"]), job["backend"], tuple(job["output_shape"]), self.raw, write_fd)
            finally:
                os._exit(3)
        os.close(write_fd)
        self.running[read_fd] = (pid, time.monotonic(), job, [])
        self.unfinished.setdefault(Path(job["path"]).parent, job["jobs_of_file"])

    def drain(self) -> list[dict]:
        while self.running:
            self._poll()
        return self.results

    def _poll(self) -> None:
        ready, _, _ = select.select(list(self.running), [], [], 0.05)
        for fd in ready:
            pid, started, job, chunks = self.running[fd]
            chunk = os.read(fd, 65536)
            if chunk:
                chunks.append(chunk)
                continue
            self._finish(fd, hung=False)
        now = time.monotonic()
        for fd, (pid, started, job, chunks) in list(self.running.items()):
            if now - started > self.timeout:
                os.kill(pid, signal.SIGKILL)
                self._finish(fd, hung=True)

    def _finish(self, fd: int, hung: bool) -> None:
        pid, started, job, chunks = self.running.pop(fd)
        os.close(fd)
        _, status = os.waitpid(pid, 0)
        elapsed = time.monotonic() - started
        text = b"".join(chunks).decode(errors="replace").strip()
        if hung:
            result = {"outcome": "hang", "detail": f"still running after {self.timeout:.0f} s"}
        elif os.WIFSIGNALED(status):
            result = {"outcome": "crash", "detail": f"killed by {signal.Signals(os.WTERMSIG(status)).name}"}
        elif text:
            result = json.loads(text.splitlines()[-1])
        else:
            result = {"outcome": "other_error", "detail": f"exited {os.WEXITSTATUS(status)} without a report"}
        result.update({k: job[k] for k in ("model", "backend", "strategy", "manifest", "index")},
                      seconds=round(elapsed, 3))
        self.results.append(result)
        if result["outcome"] in ("crash", "hang", "other_error"):
            keep = Path(job["keep_dir"])
            keep.mkdir(parents=True, exist_ok=True)
            shutil.copy(job["path"], keep / f"{job['index']:05d}_{job['backend']}_{result['outcome']}_"
                                            f"{Path(job['path']).name}")
        folder = Path(job["path"]).parent
        self.unfinished[folder] -= 1
        if not self.unfinished[folder]:
            del self.unfinished[folder]
            shutil.rmtree(folder, ignore_errors=True)


# --- the campaign ---------------------------------------------------------------------------


def backends_for(fmt: str, static_batch: bool) -> tuple[str, ...]:
    if fmt == "onnx":
        return ("onnxruntime",)
    return ("litert", "litert-compiled") if static_batch else ("litert",)


def fuzz(export_dir: Path, count: int, seed: int, jobs: int, timeout: float, raw: bool, work: Path) -> dict:
    import gan_edge  # noqa: F401 - imported before forking, so children start warm
    import ai_edge_litert.compiled_model  # noqa: F401
    import ai_edge_litert.interpreter  # noqa: F401
    from gan_edge.manifest import manifest_path

    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        pass
    models = sorted(p for p in export_dir.iterdir() if p.suffix in (".tflite", ".onnx"))
    if not models:
        raise SystemExit(f"no .tflite or .onnx files in {export_dir}: run `gan-edge demo --out DIR` first")
    originals = {}
    for model in models:
        data = model.read_bytes()
        fmt = "tflite" if model.suffix == ".tflite" else "onnx"
        fields = tflite_fields(data) if fmt == "tflite" else onnx_fields(data)
        sidecar = manifest_path(model).read_text() if manifest_path(model).is_file() else None
        manifest = _embedded_manifest(model, data)  # every file fuzzed here carries one
        originals[model.name] = (data, fmt, fields, weight_ranges(data, fmt), sidecar, manifest)
    rng = random.Random(seed)
    runner = Runner(jobs, timeout, raw, memory_bytes=_memory_limit())
    started = time.monotonic()
    for index in range(count):
        name = models[index % len(models)].name
        data, fmt, fields, weights, sidecar, manifest = originals[name]
        strategy = STRATEGIES[rng.randrange(len(STRATEGIES))]
        mutated = data
        for _ in range(20):  # a mutation that changes nothing is no test
            mutated = mutate(data, fields, weights, fmt, strategy, rng)
            if mutated != data:
                break
        kind = MANIFESTS[index // len(models) % len(MANIFESTS)] if sidecar else MANIFESTS[1 + index % 2]
        if kind == "rehashed":
            mutated = rehash(mutated, manifest.content_sha256)
        folder = Path(tempfile.mkdtemp(dir=work))
        path = folder / name
        path.write_bytes(mutated)
        if kind == "sidecar":
            manifest_path(path).write_text(sidecar)
        backends = backends_for(fmt, manifest.batch_size is not None)
        for backend in backends:
            runner.submit({"path": str(path), "model": name, "backend": backend, "strategy": strategy,
                           "manifest": kind, "index": index, "output_shape": list(manifest.output_shape),
                           "keep_dir": str(work / "kept"), "jobs_of_file": len(backends)})
    results = runner.drain()
    return {"results": results, "seconds": time.monotonic() - started, "models": [m.name for m in models]}


def _embedded_manifest(model: Path, data: bytes):
    """The model's embedded manifest (its sidecar, if any, set aside for the check)."""
    from gan_edge.artifact import open_artifact

    with tempfile.TemporaryDirectory() as folder:
        alone = Path(folder) / model.name
        alone.write_bytes(data)
        manifest = open_artifact(alone).manifest
    if manifest.content_sha256 is None:
        raise SystemExit(f"{model} carries no embedded manifest with a content hash: re-export it")
    return manifest


def _memory_limit() -> int:
    """The parent's address space plus 2 GiB: enough for any honest toy or DCGAN load."""
    with open("/proc/self/status") as f:
        vm = next((int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:")), 0)
    return vm + (2 << 30)


def summarize(report: dict) -> str:
    results = report["results"]
    lines = []
    total = Counter(r["outcome"] for r in results)
    header = (f"{'backend':16s} {'manifest':9s} " + " ".join(f"{o:>12s}" for o in OUTCOMES)
              + f" {'loads':>6s} {'weights refused':>16s}")
    lines += [header, "-" * len(header)]
    groups: dict[tuple, list] = {}
    for r in results:
        groups.setdefault((r["backend"], r["manifest"]), []).append(r)
    for (backend, manifest), rs in sorted(groups.items(), key=lambda g: (g[0][0], MANIFESTS.index(g[0][1]))):
        c = Counter(r["outcome"] for r in rs)
        weights = [r for r in rs if r["strategy"] == "weight"]
        caught = f"{sum(r['outcome'] == 'refused' for r in weights)} of {len(weights)}"
        lines.append(f"{backend:16s} {manifest:9s} " + " ".join(f"{c[o]:>12d}" for o in OUTCOMES)
                     + f" {len(rs):>6d} {caught:>16s}")
    lines.append(f"{'all':16s} {'':9s} " + " ".join(f"{total[o]:>12d}" for o in OUTCOMES) + f" {len(results):>6d}")
    lines.append("")
    by_strategy = Counter((r["strategy"], r["outcome"]) for r in results)
    lines.append("per strategy: " + "; ".join(
        f"{s} " + ", ".join(f"{o} {by_strategy[s, o]}" for o in OUTCOMES if by_strategy[s, o]) for s in STRATEGIES))
    for manifest in ("sidecar", "embedded"):
        held = [r for r in results if r["manifest"] == manifest]
        lines.append(f"with the {manifest} manifest: {sum(r['outcome'] == 'refused' for r in held)} of "
                     f"{len(held)} changed files refused")
    seconds = [r["seconds"] for r in results]
    lines.append(f"time: {report['seconds']:.1f} s for {len(results)} loads "
                 f"(per load: p50 {1e3 * float(np.median(seconds)):.0f} ms, max {max(seconds):.2f} s)")
    bad = [r for r in results if r["outcome"] in ("crash", "hang", "other_error", "wrong_output")]
    for r in bad[:20]:
        lines.append(f"  #{r['index']} {r['model']} {r['backend']} {r['manifest']} {r['strategy']}: "
                     f"{r['outcome']}: {r['detail']}")
    return "\n".join(lines)


def undetected_weight_changes(results: list[dict]) -> list[dict]:
    """Weight changes accepted although a manifest (sidecar or embedded hash) was in place."""
    return [r for r in results if r["strategy"] == "weight" and r["manifest"] != "rehashed"
            and r["outcome"] != "refused"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("export_dir", nargs="?", type=Path, help="folder of exported models (default: the newest runs/*/export)")
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per file")
    parser.add_argument("--raw", action="store_true",
                        help="skip gan_edge's structural checks (what the runtimes alone do)")
    parser.add_argument("--json", type=Path, help="write every result here")
    parser.add_argument("--keep", type=Path, help="copy files that crashed, hung or raised a non-gan_edge error here")
    args = parser.parse_args(argv)
    export_dir = args.export_dir
    if export_dir is None:
        candidates = sorted(Path("runs").glob("*/export"), key=lambda p: p.stat().st_mtime)
        if not candidates:
            parser.error("no EXPORT_DIR given and no runs/*/export: run `gan-edge demo` first")
        export_dir = candidates[-1]
    work = Path(tempfile.mkdtemp(prefix="gan-edge-fuzz-"))
    try:
        report = fuzz(export_dir, args.count, args.seed, args.jobs, args.timeout, args.raw, work)
        kept = work / "kept"
        if args.keep and kept.is_dir():
            shutil.copytree(kept, args.keep, dirs_exist_ok=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    import ai_edge_litert

    versions = {"python": platform.python_version(), "numpy": np.__version__,
                "ai_edge_litert": getattr(ai_edge_litert, "__version__", "?")}
    try:
        import onnxruntime

        versions["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        pass
    print(f"fuzzing gan_edge.load + generate(2) on every backend: {args.count} files from {export_dir}, "
          f"seed {args.seed}, {'verifier OFF (--raw)' if args.raw else 'verifier on'}, timeout {args.timeout:.0f} s, "
          f"{args.jobs} jobs; " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    print(summarize(report))
    if args.json:
        args.json.write_text(json.dumps({"versions": versions, "args": {k: str(v) for k, v in vars(args).items()},
                                         **report}, indent=1))
    counts = Counter(r["outcome"] for r in report["results"])
    failed = counts["crash"] or counts["hang"] or counts["other_error"] or undetected_weight_changes(report["results"])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
