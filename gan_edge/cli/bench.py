"""``gan-edge bench MODEL...``: latency and throughput of exported generators on this machine.

Measured by ``gan_edge.bench`` (load, first inference, warm-up, timed runs); this
module parses, prints the table, writes --json / --csv, and prints the matching
``benchmark_model`` command lines so phone results can be set beside ours.
"""

from __future__ import annotations

import argparse
import csv
import io
from pathlib import Path

from gan_edge.backends import BACKENDS
from gan_edge.errors import InputError

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
    parser.set_defaults(run=run)


def _int_list(flag: str, text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise InputError(f"{flag} must be comma-separated integers such as 1,2, got {text!r}") from None


def run(args: argparse.Namespace) -> int:
    from gan_edge.backends import check_model_file
    from gan_edge.bench import bench_model, check_counts, environment
    from gan_edge.io import atomic_path, atomic_write_json

    threads, batches, runs, warmup = check_counts(
        _int_list("--threads", args.threads), _int_list("--batch", args.batch), args.runs, args.warmup
    )
    for flag, path in (("--json", args.json), ("--csv", args.csv)):
        if path is not None and path.suffix.lower() != f".{flag[2:]}":
            raise InputError(f"{flag} must end in .{flag[2:]}, got {path.name!r}")
    models = [check_model_file(model) for model in args.models]  # all refused before any runs

    rows = []
    for model in models:
        rows += bench_model(
            model, backend=args.backend, threads=threads, batches=batches, runs=runs, warmup=warmup
        )
    env = environment()
    print(
        f"python {env['python']}, numpy {env['numpy']}, ai-edge-litert {env['ai_edge_litert']}, "
        f"onnxruntime {env['onnxruntime'] or 'not installed'}; {env['cpu']}, "
        f"{env['cpus_usable']} usable cores; {runs} timed runs after {warmup} warm-up"
    )
    print(format_table(rows))
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
    return 0


def _us(value: float) -> str:
    # Small figures keep their decimals: a 3 us call must not read as 0.00 ms.
    return f"{value:,.3f}" if value < 10 else f"{value:,.1f}"


def format_table(rows) -> str:
    header = (
        "artifact", "backend", "threads", "batch", "init ms", "first us", "p50 us", "p90 us",
        "p99 us", "us/sample", "samples/s", "RSS MB", "size",
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
            f"{row.peak_rss_mb:,.1f}",
            f"{row.model_bytes:,}",
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
