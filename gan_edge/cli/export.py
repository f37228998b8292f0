"""``gan-edge export RUN_DIR``: write the generator's deployable artifacts."""

from __future__ import annotations

import argparse
from pathlib import Path

from gan_edge.cli._workstation import require_tensorflow

# Kept here as well as in export.pipeline so `--help` needs no TensorFlow import.
FORMAT_NAMES = ("float32", "float16", "dynamic", "int8", "int8-float-io", "onnx", "onnx-int8")
DEFAULT_FORMATS = "float32,int8,onnx"


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("export", help="export a trained generator to TFLite and ONNX")
    parser.add_argument("run_dir", type=Path, help="a run folder written by `gan-edge train`")
    parser.add_argument("--formats", default=DEFAULT_FORMATS,
                        help=f"comma-separated: {', '.join(FORMAT_NAMES)}, or all (default {DEFAULT_FORMATS})")
    parser.add_argument("--batch", default="",
                        help="comma-separated static batch sizes, e.g. 1,8: each TFLite format is also "
                             "written with that batch fixed (GPU delegates need it)")
    parser.add_argument("--out", type=Path, help="folder for the artifacts (default RUN_DIR/export)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    require_tensorflow()
    from export import export_run

    formats = tuple(name.strip() for name in args.formats.split(","))
    artifacts = export_run(args.run_dir, args.out, formats=formats, batch_sizes=_batch_sizes(args.batch),
                           on_artifact=_print_artifact)
    if artifacts:
        print(f"export folder: {artifacts[0].path.parent}  (report.json, figures/fidelity.png)")
    return 0


def _batch_sizes(text: str) -> tuple:
    """'1,8' -> (1, 8). Anything that is not an integer is passed on as text, for
    export_run to refuse with the rest of its argument checks."""
    if not text.strip():
        return ()
    sizes = []
    for item in text.split(","):
        item = item.strip()
        try:
            sizes.append(int(item))
        except ValueError:
            sizes.append(item)
    return tuple(sizes)


def _print_artifact(artifact) -> None:
    fidelity = artifact.fidelity
    line = (f"wrote {artifact.path}  ({artifact.size_bytes:,} bytes, "
            f"PSNR {fidelity['psnr_db']:.1f} dB against the float generator")
    if "swd" in fidelity:
        line += f", swd {fidelity['swd']:.3f} against the data"
    print(line + ")")
