"""Generators in the browser beside the same artifacts on this machine, in one table.

    python benchmarks/browser_bench.py TOY_EXPORT DCGAN_EXPORT [--runs 100] [--warmup 10]
        [--json FILE] [--screenshot FILE.png]

Each folder is written by ``gan-edge export RUN --formats float32,int8-float-io,onnx
--batch N``. For its static-batch float32 and int8-float-io .tflite and its .onnx:
(a) native rows, ``gan_edge.bench.bench_model`` at batch N, one thread, as
``gan-edge bench`` measures them; (b) browser rows from headless Chromium driving the
page (``firmware_examples/web``) in benchmark mode: LiteRT.js (.tflite) and ONNX
Runtime Web (.onnx) on WebAssembly (one thread) and on WebGPU, the same fields
(first call, then ``--warmup`` untimed calls, then ``--runs`` timed ones; a call is
input tensor in, run, output read back to the CPU). A WebGPU row is timed only where
the page's check against WebAssembly passed (``firmware_examples/web/agreement.js``);
where it failed, the page times the WebAssembly generator it shows and the note says so.
Latents are drawn outside the timed call in the browser and inside it natively
(gan_edge's generate_into). The page's clock is ``performance.now()``, 5 us steps in a
cross-origin-isolated page.
``--screenshot`` saves the page drawing digits from the DCGAN folder's float32 model.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import re
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for folder in (ROOT, ROOT / "tests"):  # tests/headless.py drives Chromium (not part of the install)
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from gan_edge.bench import BenchRow, Timing, bench_model, environment  # noqa: E402
from gan_edge.cli.bench import format_table  # noqa: E402
from headless import run_page  # noqa: E402
from gan_edge.macs import count_macs  # noqa: E402
from gan_edge.web import make_server  # noqa: E402

ACCELERATORS = ("wasm", "webgpu")


def artifacts(folder: Path) -> tuple[list[Path], int]:
    """The folder's float32 and int8-float-io .tflite of one static batch, and its .onnx."""
    static = sorted(folder.glob("generator_float32_b*.tflite"))
    if not static:
        sys.exit(f"{folder}: no generator_float32_b<N>.tflite: export with --batch N")
    batch = int(re.search(r"_b(\d+)\.tflite$", static[0].name).group(1))
    names = [f"generator_float32_b{batch}.tflite", f"generator_int8-float-io_b{batch}.tflite", "generator_onnx.onnx"]
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        sys.exit(f"{folder}: missing {', '.join(missing)}: gan-edge export RUN --formats "
                 f"float32,int8-float-io,onnx --batch {batch}")
    return [folder / n for n in names], batch


def browser_rows(folder: Path, models: list[Path], batch: int, runs: int, warmup: int, macs: int | None):
    server = make_server(folder, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        reports = run_page(
            server,
            {"test": 1, "models": ",".join(m.name for m in models), "accelerators": ",".join(ACCELERATORS),
             "n": 8, "seed": 0, "bench": f"{runs},{warmup}", "batch": batch},
            timeout_s=600,
        )
    finally:
        server.shutdown()
        server.server_close()
    rows, notes = [], []
    for report in reports:
        if report["kind"] != "result":
            continue
        if "error" in report:
            notes.append(f"{report['model']} on {report['requested']}: {report['error']}")
            continue
        check = report.get("agreement")
        if check and not check["agrees"]:  # the page timed the WebAssembly generator it showed instead
            notes.append(f"{report['model']} on {report['requested']}: {check['line']}")
        elif report["accelerator"] != report["requested"]:
            notes.append(f"{report['model']}: {report['requested']} refused it, ran on {report['accelerator']}")
        r = report["bench"]
        timing = Timing(**{f.name: r[f.name] for f in dataclasses.fields(Timing)})
        rows.append(BenchRow(
            artifact=r["artifact"], backend=r["backend"], threads=r["threads"], batch=r["batch"],
            warmup=r["warmup"], init_us=r["init_us"], first_us=r["first_us"], timing=timing,
            peak_rss_mb=math.nan, model_bytes=r["model_bytes"], macs_per_sample=macs, source_run=r["source_run"],
        ))
    return rows, notes, reports[-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("export_dirs", type=Path, nargs="+", metavar="EXPORT_DIR")
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--json", type=Path, help="also write every row and the environment here")
    parser.add_argument("--screenshot", type=Path, help="PNG of the page drawing the last folder's float32 model")
    args = parser.parse_args()

    all_rows, all_notes, done = [], [], {}
    for folder in args.export_dirs:
        models, batch = artifacts(folder)
        macs = count_macs(models[0]).per_sample
        native = []
        for model in models:
            native += bench_model(model, batches=(batch,), threads=(1,), runs=args.runs, warmup=args.warmup)
        native = [dataclasses.replace(r, macs_per_sample=macs) for r in native]
        browser, notes, done = browser_rows(folder, models, batch, args.runs, args.warmup, macs)
        all_rows += native + browser
        all_notes += notes
        for row in browser:
            ref = next(n for n in native if n.artifact == row.artifact)
            all_notes.append(f"{row.artifact} {row.backend}: p50 {row.timing.p50_us / ref.timing.p50_us:.1f}x "
                             f"the native {ref.backend} row")

    env = environment()
    adapter = done.get("adapter") or {}
    print(f"python {env['python']}, ai-edge-litert {env['ai_edge_litert']}, onnxruntime {env['onnxruntime']}; "
          f"{env['cpu']}, {env['cpus_usable']} usable cores; {args.runs} timed runs after {args.warmup} warm-up")
    print(f"browser: {done.get('userAgent')}; WebGPU adapter: "
          f"{'/'.join(v for v in (adapter.get('vendor'), adapter.get('architecture')) if v) or 'none'}"
          f"{' (software fallback adapter: not a GPU)' if adapter.get('isFallbackAdapter') else ''}; "
          f"cross-origin isolated: {done.get('crossOriginIsolated')}")
    # RSS: a page cannot read its process's memory, so browser rows have none.
    print(format_table(all_rows).replace("nan", "  -"))
    print("backends: litert/onnxruntime = native (gan_edge); litertjs-* = LiteRT.js, ort-web-* = ONNX Runtime Web "
          "in Chromium; wasm = WebAssembly (XNNPACK), webgpu = WebGPU")
    for note in all_notes:
        print(note)
    if args.json is not None:
        args.json.write_text(json.dumps({"environment": env, "browser": {k: v for k, v in done.items() if k != "kind"},
                                         "rows": [r.to_dict() for r in all_rows]}, indent=1, default=str))
        print(f"wrote {args.json}")
    if args.screenshot is not None:
        folder = args.export_dirs[-1]
        models, _ = artifacts(folder)
        server = make_server(folder, port=0)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            (ready,) = run_page(server, {"model": models[0].name, "accelerator": "auto", "notify": 1},
                                until="ready", timeout_s=120, screenshot=args.screenshot, window=(900, 1000))
        finally:
            server.shutdown()
            server.server_close()
        if ready.get("error"):
            print(f"screenshot: the page showed an error: {ready['error']}")
            return 1
        print(f"wrote {args.screenshot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
