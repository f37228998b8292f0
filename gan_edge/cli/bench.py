"""``gan-edge bench MODEL...``: latency and throughput of exported generators on this machine.

Measured by ``gan_edge.bench`` (load, first inference, warm-up, timed runs); this
module parses, prints the table, writes --json / --csv / --plot, and prints the
matching ``benchmark_model`` command lines so phone results can be set beside ours.
``--tf-baseline RUN_DIR`` adds the run's float tf_keras generator (eager and
``tf.function``, timed by ``gan_edge.export.tf_baseline``, the workstation side, imported only
then) and a ``vs tf.function`` column.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import importlib.util
import io
from pathlib import Path

from gan_edge.backends import BACKENDS
from gan_edge.errors import BackendUnavailable, InputError

_DEVICE_DIR = "/data/local/tmp"


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "bench", help="latency and throughput of exported generators (like benchmark_model)"
    )
    parser.add_argument("models", type=Path, nargs="+", metavar="MODEL", help=".tflite or .onnx files")
    parser.add_argument("--backend", choices=tuple(BACKENDS), help="default: by file extension")
    parser.add_argument("--threads", default="1", help="comma-separated thread counts (default 1)")
    parser.add_argument("--batch", default="1,64,4096", help="comma-separated batch sizes (default 1,64,4096)")
    parser.add_argument("--runs", type=int, default=100, help="timed runs per row (default 100)")
    parser.add_argument("--warmup", type=int, default=10, help="untimed runs before them (default 10)")
    parser.add_argument("--json", type=Path, help="also write rows and environment to this JSON file")
    parser.add_argument("--csv", type=Path, help="also write the rows to this CSV file")
    parser.add_argument(
        "--accelerator", help="for --backend litert-compiled: cpu, gpu, npu or a set such as gpu+cpu"
    )
    parser.add_argument("--delegate", help="for --backend litert: a TFLite delegate library (.so)")
    parser.add_argument("--providers", help="for --backend onnxruntime: comma-separated execution providers")
    parser.add_argument(
        "--tf-baseline", type=Path, metavar="RUN_DIR",
        help="also time the run's float tf_keras generator (eager, tf.function); needs TensorFlow",
    )
    parser.add_argument("--plot", type=Path, metavar="FILE.png", help="also draw percentiles and throughput")
    parser.set_defaults(run=run)


def _int_list(flag: str, text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise InputError(f"{flag} must be comma-separated integers such as 1,2, got {text!r}") from None


def run(args: argparse.Namespace) -> int:
    from gan_edge.artifact import check_model_file
    from gan_edge.bench import bench_model, check_counts, environment
    from gan_edge.io import atomic_path, atomic_write_json

    threads, batches, runs, warmup = check_counts(
        _int_list("--threads", args.threads), _int_list("--batch", args.batch), args.runs, args.warmup
    )
    for flag, path, suffix in (("--json", args.json, "json"), ("--csv", args.csv, "csv"), ("--plot", args.plot, "png")):
        if path is not None and path.suffix.lower() != f".{suffix}":
            raise InputError(f"{flag} must end in .{suffix}, got {path.name!r}")
    if args.plot is not None:
        _matplotlib_figure()  # refused before any runs, not after them
    if args.tf_baseline is not None and not (args.tf_baseline / "config.json").is_file():
        raise InputError(f"--tf-baseline {args.tf_baseline} is not a run folder (no config.json)")
    if args.tf_baseline is not None and any(importlib.util.find_spec(m) is None for m in ("tensorflow", "tf_keras")):
        # Found missing before any runs; imported only after them, so it cannot slow them.
        raise BackendUnavailable("--tf-baseline needs TensorFlow: pip install gan-edge[train,export]")
    models = [check_model_file(model) for model in args.models]  # all refused before any runs
    options = {
        "accelerator": args.accelerator,
        "delegate": args.delegate,
        "providers": None if args.providers is None else [p.strip() for p in args.providers.split(",")],
    }
    options = {k: v for k, v in options.items() if v is not None}

    rows = []
    for model in models:
        rows += bench_model(
            model, backend=args.backend, threads=threads, batches=batches, runs=runs, warmup=warmup, **options
        )
    rows = _share_macs(rows)
    if args.tf_baseline is not None:
        from gan_edge.bench import add_speedups
        from gan_edge.cli._workstation import require_tensorflow

        require_tensorflow()
        from gan_edge.export.tf_baseline import bench_tf_baseline

        macs = _macs_of_run(rows, args.tf_baseline)
        rows = add_speedups(
            rows + bench_tf_baseline(args.tf_baseline, batches=batches, runs=runs, warmup=warmup, macs_per_sample=macs,
                                   threads=threads[0] if len(threads) == 1 else None)
        )
    env = environment()
    print(
        f"python {env['python']}, numpy {env['numpy']}, ai-edge-litert {env['ai_edge_litert']}, "
        f"onnxruntime {env['onnxruntime'] or 'not installed'}; {env['cpu']}, "
        f"{env['cpus_usable']} usable cores; {runs} timed runs after {warmup} warm-up"
    )
    print(format_table(rows))
    macs = sorted({(r.artifact, r.macs_per_sample) for r in rows if r.macs_per_sample is not None})
    if macs:
        print("MACs per sample: " + ", ".join(f"{a} {m:,}" for a, m in macs))
    if args.tf_baseline is not None:
        print(
            "vs tf.function: the tf.function row's p50 at the same batch / this row's p50, "
            "this machine; tf rows' threads are TensorFlow's intra-op setting (0: one per core)"
        )
    for model in models:
        if model.suffix.lower() == ".tflite":
            print()
            print(benchmark_model_commands(model))

    flat = [row.to_dict() for row in rows]
    if args.json is not None:
        atomic_write_json(args.json, {"environment": env, "rows": flat})
        print(f"wrote {args.json}")
    if args.csv is not None:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(flat[0]))
        writer.writeheader()
        writer.writerows(flat)
        with atomic_path(args.csv) as tmp:
            tmp.write_text(buffer.getvalue())
        print(f"wrote {args.csv}")
    if args.plot is not None:
        with atomic_path(args.plot) as tmp:
            write_plot(rows, tmp)
        print(f"wrote {args.plot}")
    return 0


def _share_macs(rows):
    """Give a row without MACs (ONNX) those of a .tflite row exported from the same run."""
    by_run = {r.source_run: r.macs_per_sample for r in rows if r.macs_per_sample is not None and r.source_run}
    return [
        dataclasses.replace(r, macs_per_sample=by_run[r.source_run])
        if r.macs_per_sample is None and r.source_run in by_run
        else r
        for r in rows
    ]


def _macs_of_run(rows, run_dir: Path) -> int | None:
    """The MACs of a benched .tflite exported from ``run_dir``, else None."""
    for row in rows:
        if row.macs_per_sample is not None and row.source_run:
            if Path(row.source_run).resolve() == run_dir.resolve():
                return row.macs_per_sample
    return None


def _us(value: float) -> str:
    # Small figures keep their decimals: a 3 us call must not read as 0.00 ms.
    return f"{value:,.3f}" if value < 10 else f"{value:,.1f}"


def format_table(rows) -> str:
    header = (
        "artifact", "backend", "threads", "batch", "init ms", "first us", "p50 us", "p90 us",
        "p99 us", "us/sample", "samples/s", "GMAC/s", "vs tf.function", "RSS MB", "size",
    )
    body = [
        (
            row.artifact,
            row.backend,
            str(row.threads),
            f"{row.batch:,}",
            f"{row.init_us / 1e3:,.1f}",
            _us(row.first_us),
            _us(row.timing.p50_us),
            _us(row.timing.p90_us),
            _us(row.timing.p99_us),
            f"{row.us_per_sample:.4g}",
            f"{row.samples_per_s:,.0f}",
            "-" if row.gmac_per_s is None else f"{row.gmac_per_s:.3g}",
            "-" if row.vs_tf_function is None else f"{row.vs_tf_function:.2f}x",
            f"{row.peak_rss_mb:,.1f}",
            f"{row.model_bytes:,}" if row.model_bytes else "-",
        )
        for row in rows
    ]
    widths = [max(len(r[i]) for r in (header, *body)) for i in range(len(header))]
    # Text columns left-aligned, numbers right-aligned.
    def line(cells) -> str:
        return "  ".join(
            c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))
        ).rstrip()

    return "\n".join([line(header), "-" * len(line(header)), *(line(r) for r in body)])


def benchmark_model_commands(model: Path) -> str:
    """The official LiteRT benchmark_model runs of ``model`` on an Android phone over adb."""
    remote = f"{_DEVICE_DIR}/{model.name}"
    base = f"adb shell {_DEVICE_DIR}/benchmark_model --graph={remote} --num_threads=4"
    return "\n".join(
        [
            f"# {model.name} on a phone with LiteRT's benchmark_model (push the binary once):",
            f"adb push {model} {_DEVICE_DIR}/",
            base,
            f"{base} --use_gpu=true",
            f"{base} --use_nnapi=true",
            f"{base} --use_hexagon=true",
            "# iOS: the benchmark app's --use_coreml=true runs it on Core ML",
        ]
    )


def _matplotlib_figure():
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise BackendUnavailable(
            "--plot needs matplotlib, which the edge install leaves out: pip install matplotlib"
        ) from None
    return Figure


def write_plot(rows, path: Path) -> None:
    """Left: p50/p90/p99 per (artifact, backend) at the smallest batch; right: throughput vs batch."""
    figure_class = _matplotlib_figure()
    fig = figure_class(figsize=(12, 4.8), layout="constrained")
    left, right = fig.subplots(1, 2)
    smallest = min(r.batch for r in rows)
    first = [r for r in rows if r.batch == smallest]
    labels = [f"{r.artifact}\n{r.backend}, {r.threads}t" for r in first]
    width = 0.27
    for k, (name, attr) in enumerate((("p50", "p50_us"), ("p90", "p90_us"), ("p99", "p99_us"))):
        values = [getattr(r.timing, attr) for r in first]
        left.bar([i + (k - 1) * width for i in range(len(first))], values, width, label=name)
    left.set_xticks(range(len(first)), labels, rotation=30, ha="right", fontsize=7)
    left.set_yscale("log")
    left.set_ylabel("latency per call (us)")
    left.set_title(f"latency percentiles at batch {smallest:,}")
    left.legend()
    series: dict[str, list] = {}
    for r in rows:
        series.setdefault(f"{r.artifact} {r.backend} {r.threads}t", []).append((r.batch, r.samples_per_s))
    for label, points in series.items():
        points.sort()
        right.plot([b for b, _ in points], [s for _, s in points], marker="o", label=label)
    right.set_xscale("log")
    right.set_yscale("log")
    right.set_xlabel("batch size")
    right.set_ylabel("samples per second")
    right.set_title("throughput against batch size")
    right.legend(fontsize=7)
    fig.savefig(path, format="png", dpi=110)
