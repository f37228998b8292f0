"""Latency and throughput of an exported generator, measured like LiteRT's ``benchmark_model``.

``bench_model(path, threads=(1,), batches=(1,), runs=100, warmup=10)`` returns one
``BenchRow`` per (threads, batch): it times the load (initialisation), the first
inference, ``warmup`` untimed runs, then ``runs`` timed ``generate_into`` calls
(latent sampling and int8 (de)quantization included, as a user pays them), each
timed on its own with ``time.perf_counter_ns``. ``time_bare_litert`` times the
same model through a bare LiteRT ``Interpreter`` (``set_tensor``, ``invoke``,
``get_tensor``) so the wrapper's own cost can be read off. ``add_speedups`` sets
each row's speed-up against the ``tf.function`` row of its batch (those rows come
from ``gan_edge.export.tf_baseline``, on the workstation side: nothing here imports
TensorFlow). Rows of .tflite models carry their MACs per
sample (``gan_edge.macs``), so GMAC/s can be read off. ``environment()``
describes the machine. Computing only: the CLI (``gan-edge bench``) prints.
"""

from __future__ import annotations

import dataclasses
import math
import os
import platform
import resource
import sys
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from gan_edge.artifact import check_model_file, open_artifact
from gan_edge.backends import check_threads
from gan_edge.capacity import check_memory, usable_cpus
from gan_edge.errors import InputError

__all__ = [
    "BenchRow",
    "Timing",
    "add_speedups",
    "bench_model",
    "check_counts",
    "environment",
    "peak_rss_mb",
    "summarize",
    "time_bare_litert",
    "time_calls",
]


@dataclass(frozen=True)
class Timing:
    """Statistics of per-run times, in microseconds (never rounded here)."""

    runs: int
    mean_us: float
    std_us: float
    min_us: float
    max_us: float
    p50_us: float
    p90_us: float
    p99_us: float


@dataclass(frozen=True)
class BenchRow:
    """One measured (artifact, backend, threads, batch)."""

    artifact: str
    backend: str
    threads: int
    batch: int
    warmup: int
    init_us: float  # load(): file checks, manifest, interpreter creation
    first_us: float  # the first inference at this batch size (resizes included)
    timing: Timing
    peak_rss_mb: float  # of the whole process so far
    model_bytes: int
    macs_per_sample: int | None = None  # None: not countable (ONNX, unless a .tflite twin)
    source_run: str | None = None  # the manifest's run, to match artifacts of one network
    vs_tf_function: float | None = None  # tf.function p50 / this p50, same batch

    @property
    def us_per_sample(self) -> float:
        return self.timing.mean_us / self.batch

    @property
    def samples_per_s(self) -> float:
        return self.batch * 1e6 / self.timing.mean_us

    @property
    def gmac_per_s(self) -> float | None:
        """Achieved multiply-accumulates per second, in billions (from the mean)."""
        if self.macs_per_sample is None:
            return None
        return self.macs_per_sample * self.samples_per_s / 1e9

    def to_dict(self) -> dict[str, Any]:
        """Flat, with the timing fields inlined: one JSON object or CSV row."""
        row = dataclasses.asdict(self)
        row.update(row.pop("timing"))
        row["us_per_sample"] = self.us_per_sample
        row["samples_per_s"] = self.samples_per_s
        row["gmac_per_s"] = self.gmac_per_s
        return row


def summarize(ns: np.ndarray) -> Timing:
    """``Timing`` of an array of per-run durations in nanoseconds."""
    us = np.asarray(ns, dtype=np.float64) / 1e3
    p50, p90, p99 = np.percentile(us, [50, 90, 99])
    return Timing(
        runs=int(us.size),
        mean_us=float(us.mean()),
        std_us=float(us.std()),
        min_us=float(us.min()),
        max_us=float(us.max()),
        p50_us=float(p50),
        p90_us=float(p90),
        p99_us=float(p99),
    )


def peak_rss_mb() -> float:
    """Peak resident set size of this process, in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def check_counts(
    threads: Iterable[Any], batches: Iterable[Any], runs: Any, warmup: Any
) -> tuple[tuple[int, ...], tuple[int, ...], int, int]:
    """Refuse bad counts before any model is loaded; returns them as ints."""

    def positive(name: str, value: Any, low: int) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            kind = "a positive int" if low == 1 else f"an int >= {low}"
            raise InputError(f"{name} must be {kind}, got {value!r}")
        return int(value)

    threads = tuple(check_threads(positive("threads", t, 1)) for t in threads)
    batches = tuple(positive("batch", b, 1) for b in batches)
    if not threads or not batches:
        raise InputError("give at least one thread count and one batch size")
    return threads, batches, positive("runs", runs, 1), positive("warmup", warmup, 0)


def time_calls(call, runs: int, warmup: int) -> Timing:
    """``warmup`` untimed calls of ``call()``, then ``runs`` calls each timed on its own."""
    for _ in range(warmup):
        call()
    ns = np.empty(runs, dtype=np.int64)
    clock = time.perf_counter_ns
    for i in range(runs):
        start = clock()
        call()
        ns[i] = clock() - start
    return summarize(ns)


def measure_row(call, *, runs: int, warmup: int, **fields: Any) -> BenchRow:
    """One row: the first ``call()`` timed alone (a new batch size's resizes or tracing),
    then ``time_calls``; ``fields`` are the row's other columns."""
    start = time.perf_counter_ns()
    call()
    first_us = (time.perf_counter_ns() - start) / 1e3
    timing = time_calls(call, runs, warmup)
    return BenchRow(warmup=warmup, first_us=first_us, timing=timing, peak_rss_mb=peak_rss_mb(), **fields)


def bench_model(
    path: str | os.PathLike,
    *,
    backend: str | None = None,
    threads: Iterable[int] = (1,),
    batches: Iterable[int] = (1,),
    runs: int = 100,
    warmup: int = 10,
    **options: Any,
) -> list[BenchRow]:
    """Rows for every (threads, batch) of one model; the model is loaded once per thread count.

    ``options`` go to ``gan_edge.load`` (accelerator=, delegate=, providers=, ...).
    """
    import gan_edge
    from gan_edge.macs import count_macs

    threads, batches, runs, warmup = check_counts(threads, batches, runs, warmup)
    path = check_model_file(path)
    macs = count_macs(path).per_sample if path.suffix.lower() == ".tflite" else None
    rows = []
    for n_threads in threads:
        start = time.perf_counter_ns()
        gen = gan_edge.load(path, backend=backend, threads=n_threads, **options)
        init_us = (time.perf_counter_ns() - start) / 1e3
        if not rows:  # every batch refused before the first is timed
            sample_bytes = 4 * math.prod(gen.output_shape)
            for batch in batches:
                check_memory(batch * sample_bytes, f"batch {batch:,} of {path.name}", "use a smaller batch")
        rng = np.random.default_rng(0)
        for batch in batches:
            out = np.empty((batch, *gen.output_shape), dtype=np.float32)
            rows.append(
                measure_row(
                    lambda: gen.generate_into(out, seed=rng), runs=runs, warmup=warmup,
                    artifact=path.name, backend=gen.backend.name, threads=n_threads, batch=batch,
                    init_us=init_us, model_bytes=path.stat().st_size, macs_per_sample=macs,
                    source_run=gen.manifest.source.get("run"),
                )
            )
    return rows


def add_speedups(rows: list[BenchRow]) -> list[BenchRow]:
    """``rows`` with ``vs_tf_function`` set: the tf.function p50 at the same batch / the row's p50.

    Rows whose batch has no tf.function row keep None.
    """
    reference = {r.batch: r.timing.p50_us for r in rows if r.backend == "tf.function"}
    return [
        dataclasses.replace(r, vs_tf_function=reference[r.batch] / r.timing.p50_us)
        if r.batch in reference
        else r
        for r in rows
    ]


def time_bare_litert(
    path: str | os.PathLike, *, threads: int = 1, batch: int = 1, runs: int = 1000, warmup: int = 100
) -> Timing:
    """The floor under ``generate``: a bare LiteRT ``Interpreter`` on prepared input.

    Each timed run is ``set_tensor`` + ``invoke`` + ``get_tensor`` at ``batch`` rows,
    the way LiteRT's own Python examples run a model; no latent is drawn and nothing
    is (de)quantized.
    """
    from ai_edge_litert.interpreter import Interpreter

    (threads,), (batch,), runs, warmup = check_counts((threads,), (batch,), runs, warmup)
    artifact = open_artifact(path, need_manifest=False)  # checked as every backend's model is
    interpreter = Interpreter(model_content=artifact.data, num_threads=threads)
    detail = interpreter.get_input_details()[0]
    in_index = detail["index"]
    out_index = interpreter.get_output_details()[0]["index"]
    if int(detail["shape"][0]) != batch:
        interpreter.resize_tensor_input(in_index, [batch, *detail["shape"][1:]], strict=True)
    interpreter.allocate_tensors()
    dtype = np.dtype(detail["dtype"])
    shape = (batch, *detail["shape"][1:])
    rng = np.random.default_rng(0)
    if dtype.kind == "i":
        x = rng.integers(-128, 128, size=shape, dtype=np.int64).astype(dtype)
    else:
        x = rng.random(shape, dtype=np.float32).astype(dtype)

    def call() -> None:
        interpreter.set_tensor(in_index, x)
        interpreter.invoke()
        interpreter.get_tensor(out_index)

    return time_calls(call, runs, warmup)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware", "processor\t: a")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def environment() -> dict[str, Any]:
    """What the numbers were measured on: versions, CPU, cores available."""
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "ai_edge_litert": _version("ai-edge-litert"),
        "onnxruntime": _version("onnxruntime"),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": usable_cpus(),
    }
