"""``gan-edge export RUN_DIR``: write the generator's deployable artifacts."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("export", help="export a trained generator to TFLite and ONNX")
    parser.add_argument("run_dir", type=Path, help="a run folder written by `gan-edge train`")
    parser.add_argument("--formats", default="float32,int8,onnx",
                        help="comma-separated: float32, int8, onnx, or all (default float32,int8,onnx)")
    parser.add_argument("--out", type=Path, help="folder for the artifacts (default RUN_DIR/export)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from export import export_run

    formats = tuple(name.strip() for name in args.formats.split(",") if name.strip())
    artifacts = export_run(args.run_dir, args.out, formats=formats, on_artifact=_print_artifact)
    if artifacts:
        print(f"export folder: {artifacts[0].path.parent}")
    return 0


def _print_artifact(artifact) -> None:
    print(f"wrote {artifact.path}  ({artifact.size_bytes:,} bytes, "
          f"PSNR {artifact.fidelity['psnr_db']:.1f} dB against the float generator)")
