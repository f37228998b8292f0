"""``gan-edge devices [--probe MODEL]``: what this machine can run generators on.

Lists LiteRT (version, XNNPACK CPU, the accelerators its ``CompiledModel`` API
names) and ONNX Runtime (version, execution providers), or how to install what
is missing. With ``--probe MODEL.tflite`` each LiteRT accelerator is tried for
real by compiling that model with it (milliseconds for a small model).
"""

from __future__ import annotations

import argparse
from importlib import metadata
from pathlib import Path

from gan_edge.io import quiet_native_stderr


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("devices", help="list the runtimes and accelerators available here")
    parser.add_argument(
        "--probe", type=Path, metavar="MODEL", help="a .tflite model to compile with each LiteRT accelerator"
    )
    parser.set_defaults(run=run)


def _probe(data: bytes, accelerators) -> list[tuple[str, str]]:
    from ai_edge_litert.compiled_model import CompiledModel

    from gan_edge.backends.compiled_model import gpu_refusal
    from gan_edge.backends.litert import litert_message

    results = []
    for name, flag in accelerators:
        if flag.name == "GPU" and (reason := gpu_refusal()) is not None:
            results.append((name, f"not probed: {reason}"))
            continue
        try:
            with quiet_native_stderr():
                compiled = CompiledModel.from_buffer(data, hardware_accel=flag)
                full = compiled.is_fully_accelerated()
            results.append((name, "works" + ("" if full else " (some ops fall back)")))
        except (RuntimeError, ValueError) as exc:  # LiteRT's multi-line trace; its last line is the reason
            results.append((name, f"not usable: {litert_message(exc, last_line=True)[:120]}"))
    return results


def describe(probe: Path | None = None) -> list[tuple[str, str]]:
    """(what, status) lines; computing only."""
    lines: list[tuple[str, str]] = []
    try:
        lines.append(("LiteRT (ai-edge-litert)", metadata.version("ai-edge-litert")))
        from ai_edge_litert.hardware_accelerator import HardwareAccelerator
    except (metadata.PackageNotFoundError, ImportError):
        lines.append(("LiteRT (ai-edge-litert)", "not installed: pip install gan-edge"))
    else:
        lines.append(("  Interpreter CPU", "XNNPACK (the default op resolver)"))
        accelerators = [(f"CompiledModel {a.name}", a) for a in HardwareAccelerator]
        if probe is None:
            names = ", ".join(a.name for a in HardwareAccelerator)
            lines.append(("  CompiledModel accelerators", f"{names} (try them: --probe MODEL.tflite)"))
        else:
            from gan_edge.artifact import open_artifact
            from gan_edge.errors import InputError

            # The same checks as gan_edge.load, before LiteRT compiles a byte of it.
            model = open_artifact(probe, need_manifest=False)
            if model.format != "tflite":
                raise InputError(f"--probe compiles a .tflite model with LiteRT, got {model.path.name}")
            lines += [(f"  {n}", s) for n, s in _probe(model.data, accelerators)]
    try:
        import onnxruntime
    except ImportError:
        lines.append(("ONNX Runtime", "not installed: pip install gan-edge[onnx]"))
    else:
        lines.append(("ONNX Runtime", onnxruntime.__version__))
        lines.append(("  providers", ", ".join(onnxruntime.get_available_providers())))
    return lines


def run(args: argparse.Namespace) -> int:
    lines = describe(args.probe)
    width = max(len(what) for what, _ in lines)
    for what, status in lines:
        print(f"{what.ljust(width)}  {status}")
    return 0
