"""What gan_edge's wrapper costs on top of a bare LiteRT interpreter, on the toy int8 generator.

    python benchmarks/edge_latency.py [EXPORT_DIR] [--runs N]

Without EXPORT_DIR it trains and exports the toy demo into a temporary folder
(about 15 s). Side by side, one process, one thread:
(a) bare ``Interpreter`` set_tensor + invoke + get_tensor at batch 1,
(b) ``Generator.generate(1)`` on the default stream (seed=None: latents drawn and
quantized 64 rows ahead, so one call in 64 pays for the draw), (b') the same with the
caller's numpy Generator as seed (drawn and quantized in every call), both including
the int8 dequantization, (c) ``Generator.generate_into`` at batch 4096, (d) the bare
interpreter at 4096. Targets: (b) - (a) under 5 us on the toy model, at most 5% of (a)
on the DCGAN; (c) at least 20 million samples/s. The overhead is given on medians and
on means (the mean carries the one-in-64 draws).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

OVERHEAD_TARGET_US = 5.0  # the toy generator
OVERHEAD_TARGET_SHARE = 0.05  # image generators: of the bare invoke
THROUGHPUT_TARGET = 20e6
BIG_BATCH = 4096


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("export_dir", nargs="?", type=Path, help="an export folder (default: make one)")
    parser.add_argument("--runs", type=int, default=20000, help="timed runs at batch 1 (default 20000)")
    parser.add_argument("--big-batch", type=int, default=BIG_BATCH,
                        help=f"the large batch of rows (c) and (d) (default {BIG_BATCH}; smaller for image models)")
    args = parser.parse_args()
    big_batch = args.big_batch

    if args.export_dir is None:
        from gan_edge.cli.main import main as gan_edge_main

        tmp = tempfile.TemporaryDirectory()
        run_dir = Path(tmp.name) / "demo"
        print(f"training and exporting the toy demo into {run_dir} ...", flush=True)
        if gan_edge_main(["demo", "--out", str(run_dir)]) != 0:
            return 1
        args.export_dir = run_dir / "export"

    import gan_edge
    from gan_edge.bench import environment, time_bare_litert, time_calls

    model = args.export_dir / "generator_int8.tflite"
    runs, big_runs = args.runs, max(200, args.runs // 50)
    gen = gan_edge.load(model, threads=1)
    rng = np.random.default_rng(0)

    bare_1 = time_bare_litert(model, threads=1, batch=1, runs=runs, warmup=runs // 10)
    wrap_1 = time_calls(lambda: gen.generate(1), runs, runs // 10)
    wrap_1_seeded = time_calls(lambda: gen.generate(1, seed=rng), runs, runs // 10)
    out = np.empty((big_batch, *gen.output_shape), dtype=np.float32)
    wrap_big = time_calls(lambda: gen.generate_into(out, seed=rng), big_runs, big_runs // 10)
    bare_big = time_bare_litert(model, threads=1, batch=big_batch, runs=big_runs, warmup=big_runs // 10)

    env = environment()
    print(
        f"{model.name}, 1 thread; python {env['python']}, numpy {env['numpy']}, "
        f"ai-edge-litert {env['ai_edge_litert']}; {env['cpu']}, {env['cpus_usable']} usable cores"
    )
    print(f"medians of {runs:,} runs at batch 1 and {big_runs:,} at batch {big_batch:,}\n")
    print(f"{'':48}{'p50 us':>10}{'p90 us':>10}{'mean us':>10}{'samples/s':>14}")
    for label, t, batch in (
        ("(a) bare Interpreter, batch 1", bare_1, 1),
        ("(b) Generator.generate(1)", wrap_1, 1),
        ("(b') Generator.generate(1, seed=numpy Generator)", wrap_1_seeded, 1),
        (f"(c) Generator.generate_into, batch {big_batch}", wrap_big, big_batch),
        (f"(d) bare Interpreter, batch {big_batch}", bare_big, big_batch),
    ):
        print(f"{label:48}{t.p50_us:>10.3f}{t.p90_us:>10.3f}{t.mean_us:>10.3f}{batch * 1e6 / t.p50_us:>14,.0f}")

    throughput = big_batch * 1e6 / wrap_big.p50_us
    print()
    toy = gen.manifest.source.get("model") == "toy2d"  # its target is in us, the others' in %
    for label, wrapped in (("(b)", wrap_1), ("(b')", wrap_1_seeded)):
        for statistic in ("p50_us", "mean_us"):
            bare, ours = getattr(bare_1, statistic), getattr(wrapped, statistic)
            overhead = ours - bare
            met = overhead < OVERHEAD_TARGET_US if toy else overhead <= OVERHEAD_TARGET_SHARE * bare
            target = f"< {OVERHEAD_TARGET_US:g} us" if toy else f"<= {100 * OVERHEAD_TARGET_SHARE:g}%"
            print(f"wrapper overhead at batch 1, {label} - (a) on {statistic[:-3]}s: {overhead:.3f} us "
                  f"(+{100 * overhead / bare:.1f}%); target {target}: {'met' if met else 'NOT met'}")
    print(
        f"throughput at batch {big_batch}: (c) {throughput / 1e6:.1f} M samples/s, (c) / (d) = "
        f"{bare_big.p50_us / wrap_big.p50_us:.2f}x of the bare interpreter's rate; toy target >= "
        f"{THROUGHPUT_TARGET / 1e6:g} M: {'met' if throughput >= THROUGHPUT_TARGET else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
