"""``gan-edge export RUN_DIR``: write the generator's deployable artifacts."""

from __future__ import annotations

import argparse
from pathlib import Path

from gan_edge.cli._workstation import require_tensorflow
from gan_edge.cli.train import whole_number


def add_parser(subparsers) -> None:
    # export.formats imports no TensorFlow: --help stays fast, and reads the one definition.
    from gan_edge.export.formats import C_FORMAT, C_SOURCE, DEFAULT_FORMATS, EXTRA_FORMATS, FORMATS, default_export_dir

    defaults = ",".join(DEFAULT_FORMATS)
    extras = ", ".join(EXTRA_FORMATS)
    parser = subparsers.add_parser("export", help="export a trained generator to TFLite and ONNX")
    parser.add_argument("run_dir", type=Path, help="a run folder written by `gan-edge train`")
    parser.add_argument("--formats", default=defaults,
                        help=f"comma-separated: {', '.join(FORMATS)}, or all (default {defaults}); "
                             f"{C_FORMAT}: a C99 module for microcontrollers, in OUT/{C_FORMAT} "
                             f"(exports {C_SOURCE} too); "
                             f"{extras}: quantization-aware fine-tuning, then full int8 (not part of all)")
    parser.add_argument("--qat-epochs", type=whole_number, default=1,
                        help="epochs of quantization-aware fine-tuning for the qat format (default 1)")
    parser.add_argument("--batch", default="",
                        help="comma-separated static batch sizes, e.g. 1,8: each TFLite format is also "
                             "written with that batch fixed (GPU delegates need it)")
    parser.add_argument("--out", type=Path,
                        help=f"folder for the artifacts (default {default_export_dir('RUN_DIR')})")
    parser.add_argument("--min-psnr", default="", metavar="FORMAT=DB[,FORMAT=DB]",
                        help=f"lower or raise a format's fidelity gate, e.g. int8=30 (defaults: {_gate_summary()})")
    parser.add_argument("--flash-kib", type=float, default=None, metavar="N",
                        help=f"{C_FORMAT} format only: refuse a C module whose const data (weights, biases, "
                             f"requantization parameters, tables) exceeds N KiB")
    parser.add_argument("--ram-kib", type=float, default=None, metavar="N",
                        help=f"{C_FORMAT} format only: refuse a C module whose activation buffers exceed N KiB")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    require_tensorflow()
    from gan_edge.export import export_run
    from gan_edge.export.formats import C_FORMAT, C_SOURCE, default_export_dir

    from gan_edge.errors import InputError

    formats = tuple(name.strip() for name in args.formats.split(","))
    for flag, value in (("--flash-kib", args.flash_kib), ("--ram-kib", args.ram_kib)):
        if value is not None and C_FORMAT not in formats:
            raise InputError(f"{flag} is a budget for the C module: add {C_FORMAT} to --formats "
                             f"(got --formats {args.formats})")
        if value is not None and not value > 0:
            raise InputError(f"{flag} must be a positive number of KiB, got {value:g}")
    c_dir = None
    if C_FORMAT in formats:
        from gan_edge.export.c_module import check_target

        c_dir = (args.out if args.out is not None else default_export_dir(args.run_dir)) / C_FORMAT
        check_target(c_dir)  # before any work, like export_run's own checks
        formats = tuple(name for name in formats if name != C_FORMAT)
        if C_SOURCE not in formats and "all" not in formats:
            formats += (C_SOURCE,)
    artifacts = export_run(args.run_dir, args.out, formats=formats, batch_sizes=_batch_sizes(args.batch),
                           qat_epochs=args.qat_epochs, min_psnr_db=_gates(args.min_psnr),
                           on_artifact=_print_artifact, on_qat_epoch=_print_qat_epoch)
    if c_dir is not None:
        _export_c(artifacts, c_dir, args.flash_kib, args.ram_kib)
    if artifacts:
        print(f"export folder: {artifacts[0].path.parent}  (report.json, figures/fidelity.png)")
    return 0


def _gate_summary() -> str:
    """The default fidelity gates, formats of equal gates together: '80 dB float32 and onnx, 60 dB float16, ...'."""
    from gan_edge.export.formats import DEFAULT_MIN_PSNR_DB

    by_gate: dict[float, list[str]] = {}
    for name, gate in DEFAULT_MIN_PSNR_DB.items():
        by_gate.setdefault(gate, []).append(name)
    return ", ".join(f"{gate:g} dB {_and_list(names)}" for gate, names in by_gate.items())


def _and_list(names: list[str]) -> str:
    """['a', 'b', 'c'] -> 'a, b and c'."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _export_c(artifacts, c_dir: Path, flash_kib: float | None, ram_kib: float | None) -> None:
    from gan_edge.export.c_module import export_c_module
    from gan_edge.export.formats import C_SOURCE
    from gan_edge.errors import GanEdgeError

    int8 = next(a for a in artifacts if a.variant == C_SOURCE and a.batch_size is None)
    try:
        module = export_c_module(int8.path, c_dir, flash_kib=flash_kib, ram_kib=ram_kib)
    except GanEdgeError as exc:  # one line still, saying what is on disk
        raise type(exc)(f"{exc} [the exports above were written; {c_dir} was not]") from None
    where = "static" if module.static_buffer_bytes else "stack"
    print(f"wrote {module.header} and {module.source.name}  ({module.flash_bytes:,} bytes of const data, "
          f"{module.weight_bytes:,} of them int8 weights; {module.buffer_bytes:,} bytes of {where} buffers, "
          f"the largest pair of live tensors; {module.macs:,} MACs per image; from {int8.path.name})")
    for note in module.portable_notes:  # layers the fast DSP/Helium kernels do not cover
        print(f"  {note}")


def _gates(text: str) -> dict[str, float] | None:
    """'int8=30,float16=55' -> {"int8": 30.0, "float16": 55.0}; export_run checks the names."""
    from gan_edge.errors import InputError

    if not text.strip():
        return None
    gates = {}
    for item in text.split(","):
        name, _, value = item.partition("=")
        try:
            gates[name.strip()] = float(value)
        except ValueError:
            raise InputError(f"--min-psnr takes FORMAT=DB pairs such as int8=30, got {item.strip()!r}") from None
    return gates


def _batch_sizes(text: str) -> tuple:
    """'1,8' -> (1, 8). Anything that is not an integer is passed on as text, for
    export_run to refuse with the rest of its argument checks."""
    if not text.strip():
        return ()
    sizes = []
    for item in text.split(","):
        item = item.strip()
        try:
            sizes.append(whole_number(item))
        except argparse.ArgumentTypeError:
            sizes.append(item if len(item) <= 20 else f"{item[:12]}... ({len(item):,} characters)")
    return tuple(sizes)


def _print_artifact(artifact) -> None:
    fidelity = artifact.fidelity
    line = (f"wrote {artifact.path}  ({artifact.size_bytes:,} bytes, "
            f"PSNR {fidelity['psnr_db']:.1f} dB against the float generator")
    if "swd" in fidelity:
        line += f", swd {fidelity['swd']:.3f}, corr {fidelity['corr']:.3f}, fd {fidelity['fd']:.3f} against the data"
    if "fcd" in fidelity:
        line += f", fcd {fidelity['fcd']:.1f}, {fidelity['classes_covered']:.0f} digits covered"
    print(line + ")", flush=True)


def _print_qat_epoch(record) -> None:
    print(f"qat fine-tuning epoch {record['epoch']}  d_loss {record['d_loss']:.3f}  g_loss {record['g_loss']:.3f}",
          flush=True)
