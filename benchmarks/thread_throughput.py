"""Throughput of one shared Generator against calling threads and workers.

    python benchmarks/thread_throughput.py [MODEL ...] [--threads 1,2] [--batch 1,16]

Without MODEL it trains and exports the toy demo into a temporary folder (about 15 s)
and uses its int8 generator; pass a DCGAN export (generator_int8.tflite) to see an
image model. Side by side in one run, for each model, batch and T in --threads:

    T calling threads x 1 worker    load(path): calls queue for the one interpreter
    T calling threads x T workers   load(path, workers=T): an interpreter per worker
    1 calling thread, threads=T     load(path, threads=T): one call at a time, split
                                    by the runtime over T cores (intra-op)

Each row: a warm-up, then every thread calls ``generate(batch)`` (the default stream)
for --seconds; samples/s over all threads; the median of --repeats rounds that take
the rows in turn, so a burst of load from elsewhere hits them all alike. ``x 1x1`` is
the ratio to one thread on one worker.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np


def measure(gen, threads: int, batch: int, seconds: float) -> tuple[float, float]:
    """(samples/s over all threads, mean us per call as a caller waits for it)."""
    for _ in range(20):  # warm-up: buffers reserved, caches filled on each worker
        gen.generate(batch)
    start, counts = threading.Barrier(threads + 1), [0] * threads
    stop_at = [0.0]

    def work(i: int) -> None:
        start.wait()
        calls, stop = 0, stop_at[0]
        while time.perf_counter() < stop:
            gen.generate(batch)
            calls += 1
        counts[i] = calls

    pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    stop_at[0] = time.perf_counter() + seconds
    began = time.perf_counter()
    start.wait()
    for t in pool:
        t.join()
    wall = time.perf_counter() - began
    calls = sum(counts)
    return calls * batch / wall, threads * wall * 1e6 / max(calls, 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", type=Path,
                        help=".tflite or .onnx generators (default: the toy demo's int8)")
    parser.add_argument("--threads", default="1,2",
                        help="calling threads / workers to compare (default 1,2; a 4-core board: 1,2,4)")
    parser.add_argument("--batch", default="1,64", help="rows per call (default 1,64)")
    parser.add_argument("--seconds", type=float, default=1.0, help="timed seconds per row and round (default 1)")
    parser.add_argument("--repeats", type=int, default=3, help="rounds; the median is shown (default 3)")
    args = parser.parse_args()
    counts = sorted({int(t) for t in args.threads.split(",")} | {1})
    batches = [int(b) for b in args.batch.split(",")]
    if min(counts) < 1 or min(batches) < 1 or args.seconds <= 0 or args.repeats < 1:
        parser.error("--threads, --batch, --seconds and --repeats must be positive")

    if not args.models:
        from gan_edge.cli.main import main as gan_edge_main

        tmp = tempfile.TemporaryDirectory()
        run_dir = Path(tmp.name) / "demo"
        print(f"training and exporting the toy demo into {run_dir} ...", flush=True)
        if gan_edge_main(["demo", "--out", str(run_dir)]) != 0:
            return 1
        args.models = [run_dir / "export" / "generator_int8.tflite"]

    import gan_edge
    from gan_edge.bench import environment

    env = environment()
    print(
        f"python {env['python']}, numpy {env['numpy']}, ai-edge-litert {env['ai_edge_litert']}, "
        f"onnxruntime {env['onnxruntime']}, gan-edge {gan_edge.__version__}\n"
        f"{env['cpu']} ({env['machine']}), {env['cpus_usable']} usable cores of {env['cpu_count']}; "
        f"load average at start {', '.join(f'{x:.2f}' for x in os.getloadavg())}\n"
        f"{args.seconds:g} s per row, median of {args.repeats} rounds; default stream (seed=None)\n"
    )
    for model in args.models:
        # (label, calling threads, workers, intra-op threads), the baseline first.
        rows = [("1 thread  x 1 worker", 1, 1, 1)]
        for t in counts[1:]:
            rows += [
                (f"{t} threads x 1 worker", t, 1, 1),
                (f"{t} threads x {t} workers", t, t, 1),
                (f"1 thread, threads={t}", 1, 1, t),
            ]
        loaded = {}
        for _, _, workers, intra in rows:
            if (workers, intra) not in loaded:
                loaded[workers, intra] = gan_edge.load(model, workers=workers, threads=intra)
        for batch in batches:
            results = {label: [] for label, *_ in rows}
            for _ in range(args.repeats):
                for label, threads, workers, intra in rows:
                    results[label].append(measure(loaded[workers, intra], threads, batch, args.seconds))
            base = float(np.median([r[0] for r in results[rows[0][0]]]))
            print(f"{model.name}, batch {batch}")
            print(f"  {'':28}{'samples/s':>14}{'us/call':>10}{'x 1x1':>8}")
            for label, *_ in rows:
                rate = float(np.median([r[0] for r in results[label]]))
                latency = float(np.median([r[1] for r in results[label]]))
                print(f"  {label:28}{rate:>14,.0f}{latency:>10.1f}{rate / base:>7.2f}x")
            print()
        for gen in loaded.values():
            gen.close()
    print(f"load average at end {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
