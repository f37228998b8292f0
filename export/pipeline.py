"""Export a run's generator: convert, embed the metadata, check, then write.

For each format (and each static batch size asked): convert to bytes, embed the
manifest, stage the file in a temporary folder, load it through the edge runtime
(``gan_edge.load``, exactly as a device will) and compare its samples with the float
generator's from the same latents. ``report.json`` and ``figures/fidelity.png``
describe them. Only when every artifact has passed its fidelity gate does the whole
set move into place: an export writes all its formats or none, so a refused or
interrupted one leaves the output folder as it was.
"""

from __future__ import annotations

import contextlib
import datetime
import math
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, replace
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

import gan_edge
from gan_edge.export import figures, fidelity, onnx as onnx_export, qat, tflite
from gan_edge.export.embed import embed_in_onnx, embed_in_tflite
from gan_edge.export.formats import ALL_FORMATS as _SPECS
from gan_edge.export.formats import DEFAULT_FORMATS, DEFAULT_MIN_PSNR_DB, EXTRA_FORMATS, FORMATS, default_export_dir
from gan_edge.export.source import TrainedGenerator, load_generator
from gan_edge.training.config import MAX_EPOCHS
from gan_edge.errors import ConfigError, GanEdgeError, RunFolderError
from gan_edge.io import atomic_write_json, quiet_native_stderr
from gan_edge.latent import sample_latent
from gan_edge.manifest import Manifest, Quantization, write_manifest

__all__ = ["FORMATS", "EXTRA_FORMATS", "DEFAULT_FORMATS", "ExportedArtifact", "export_run"]


# Formats whose artifact has int8 input and output (scale and zero point go into the manifest).
_INT8_IO = ("int8", "qat")

# name -> converter(trained, calibration, batch_size) -> model bytes
_CONVERTERS: dict[str, Callable[[TrainedGenerator, np.ndarray, int | None], bytes]] = {
    "float32": lambda t, cal, b: tflite.to_float32(t, batch_size=b),
    "float16": lambda t, cal, b: tflite.to_float16(t, batch_size=b),
    "dynamic": lambda t, cal, b: tflite.to_dynamic_range(t, batch_size=b),
    "int8": lambda t, cal, b: tflite.to_int8(t, cal, batch_size=b),
    "int8-float-io": lambda t, cal, b: tflite.to_int8_float_io(t, cal, batch_size=b),
    "onnx": lambda t, cal, b: onnx_export.to_float32(t, batch_size=b),
    "onnx-int8": lambda t, cal, b: onnx_export.to_int8_qdq(t, cal, batch_size=b),
    # `t` is the QAT-fine-tuned generator here (qat.fine_tune), converted like int8.
    "qat": lambda t, cal, b: tflite.to_int8(t, cal, batch_size=b),
}

# Latents per artifact for the fidelity check, and for int8 calibration.
FIDELITY_SAMPLES = 10_000
DEFAULT_CALIBRATION_SAMPLES = 500
# The largest static batch: GPU delegates want small fixed batches (1 to 8), and the
# fidelity check runs the artifact at its batch, which for the DCGAN (about 80 KB of
# float activations a sample) is 320 MB at 4,096 and would be gigabytes beyond.
MAX_STATIC_BATCH = 4096
# Points per panel in figures/fidelity.png.
FIGURE_POINTS = 1_000
_FIGURE = "figures/fidelity.png"


@dataclass(frozen=True)
class ExportedArtifact:
    variant: str
    path: Path
    manifest_path: Path
    size_bytes: int
    fidelity: dict[str, float]
    seconds: float
    batch_size: int | None = None

    @property
    def name(self) -> str:
        """``variant``, or ``variant_bN`` for a static-batch artifact (the file's stem after ``generator_``)."""
        return _stem(self.variant, self.batch_size)


def export_run(
    run_dir: str | Path,
    out_dir: str | Path | None = None,
    *,
    formats: Iterable[str] = DEFAULT_FORMATS,
    batch_sizes: Iterable[int] = (),
    calibration_samples: int = DEFAULT_CALIBRATION_SAMPLES,
    min_psnr_db: dict[str, float] | None = None,
    coverage_gate: bool = True,
    fidelity_samples: int = FIDELITY_SAMPLES,
    qat_epochs: int = 1,
    on_artifact: Callable[[ExportedArtifact], None] | None = None,
    on_qat_epoch: Callable[[dict[str, Any]], None] | None = None,
) -> list[ExportedArtifact]:
    """Export ``formats`` of the generator in ``run_dir`` into ``out_dir`` (default RUN_DIR/export).

    Each format is written with a dynamic batch; each TFLite format is also
    written with every batch size in ``batch_sizes`` fixed (``generator_<format>_b<N>.tflite``),
    as GPU delegates require. ``min_psnr_db`` overrides the fidelity gate per format;
    ``coverage_gate`` (image generators) refuses an artifact that lost a digit the
    float generator draws (``fidelity.check_task_gate``). ``qat`` fine-tunes for ``qat_epochs`` epochs
    first, calling ``on_qat_epoch`` with each epoch's losses.
    """
    # Every argument is checked before the run folder is touched.
    formats = _check_formats(formats)
    batch_sizes = _check_batch_sizes(batch_sizes)
    if batch_sizes and not any(_SPECS[name].model_format == "tflite" for name in formats):
        raise ConfigError(
            f"static batch sizes {list(batch_sizes)} apply to TFLite formats only: expected at least one of "
            f"{', '.join(n for n, s in FORMATS.items() if s.model_format == 'tflite')} in the formats, "
            f"got {', '.join(formats)}"
        )
    if isinstance(calibration_samples, bool) or not isinstance(calibration_samples, int) or calibration_samples < 1:
        raise ConfigError(f"calibration_samples must be a positive int, got {calibration_samples!r}")
    if isinstance(fidelity_samples, bool) or not isinstance(fidelity_samples, int) or fidelity_samples < 2:
        raise ConfigError(f"fidelity_samples must be an int of 2 or more, got {fidelity_samples!r}")
    if isinstance(qat_epochs, bool) or not isinstance(qat_epochs, int) or not 0 <= qat_epochs <= MAX_EPOCHS:
        raise ConfigError(f"qat epochs must be an int from 0 to {MAX_EPOCHS:,} (--qat-epochs), got {qat_epochs!r}")
    gates = _check_gates(min_psnr_db)

    trained = load_generator(run_dir)
    if "qat" in formats:
        # Refused by layer name before anything is fine-tuned or written.
        qat.check_quantizable(qat.trainable_form(trained.model))
    out_dir = Path(out_dir) if out_dir is not None else default_export_dir(trained.run.path)
    _check_out_dir(out_dir)
    jobs = [(name, None) for name in formats] + [
        (name, batch) for batch in batch_sizes for name in formats if _SPECS[name].model_format == "tflite"
    ]
    targets = {job: out_dir / _file_name(*job) for job in jobs}
    _refuse_existing(targets.values())

    config = trained.config
    rng = np.random.default_rng(config.seed + 2)
    latents = sample_latent(config.latent_distribution, fidelity_samples, config.latent_dim, rng)
    calibration = sample_latent(config.latent_distribution, calibration_samples, config.latent_dim, rng)
    reference = _generate(trained, latents)
    target_data = fidelity.task_target(config)
    reference_task = fidelity.task_metrics(reference, target_data)
    float_shares = (fidelity.digit_shares(reference, target_data)
                    if isinstance(target_data, fidelity.ImageTask) else None)
    sources = {name: trained for name in formats}
    qat_reference = None
    if "qat" in formats:
        sources["qat"] = qat.fine_tune(trained, epochs=qat_epochs, on_epoch=on_qat_epoch)
        # What the artifact is meant to reproduce: the fine-tuned model, fake quantization included.
        qat_reference = _generate(sources["qat"], latents)

    artifacts, panels = [], {}
    with _staging_folder(out_dir) as staging:
        try:
            for job in jobs:
                name, batch = job
                started = time.perf_counter()
                staged = staging / targets[job].name
                _write_artifact(sources[name], name, batch, staged, calibration)
                samples = gan_edge.load(staged).generate_from_latent(latents)
                measured = fidelity.compare(samples, reference)
                if name == "qat":
                    # Fine-tuning moved the generator away from the float one on purpose:
                    # the PSNR gate checks the conversion against the fine-tuned model;
                    # psnr_db against the float generator is reported beside it.
                    tuned = fidelity.compare(samples, qat_reference)
                    measured.update({f"qat_model_{k}": v for k, v in tuned.items()})
                    fidelity.check_gate(_stem(name, batch), tuned, gates[name])
                else:
                    fidelity.check_gate(_stem(name, batch), measured, gates[name])
                measured.update(fidelity.task_metrics(samples, target_data))
                if coverage_gate and float_shares is not None:
                    fidelity.check_task_gate(_stem(name, batch), fidelity.digit_shares(samples, target_data),
                                             float_shares)
                artifact = ExportedArtifact(
                    name, targets[job], Path(str(targets[job]) + ".manifest.json"), staged.stat().st_size,
                    measured, time.perf_counter() - started, batch,
                )
                artifacts.append(artifact)
                panels[artifact.name] = samples[:FIGURE_POINTS]
        except GanEdgeError as exc:
            if not artifacts:
                raise
            passed = ", ".join(a.name for a in artifacts)
            message = (f"{exc} [an export writes all its formats or none: {passed} passed its gate but was not "
                       f"written either; {out_dir} is as it was]")
            raise type(exc)(message).with_traceback(exc.__traceback__) from None
        extra = {"coverage_gate": coverage_gate}
        if "qat" in formats:
            extra["qat_epochs"] = qat_epochs
        _write_report(staging, trained, artifacts, calibration_samples, gates, reference_task, fidelity_samples,
                      extra)
        if figures.can_plot(trained.output_shape):
            figures.plot_fidelity(reference[:FIGURE_POINTS], panels, staging / _FIGURE)
        elif figures.can_plot_images(trained.output_shape):
            figures.plot_fidelity_images(reference, panels, staging / _FIGURE)
        _refuse_existing(targets.values())  # again: nothing may have appeared there meanwhile
        _move_into(staging, out_dir, [a.path.name for a in artifacts])
    if on_artifact is not None:
        for artifact in artifacts:
            on_artifact(artifact)
    return artifacts


@contextlib.contextmanager
def _staging_folder(out_dir: Path):
    """A temporary folder on the output folder's file system, so that moving the finished
    artifacts into place is a rename: inside the output folder when it exists, else beside
    the first of its parents that does (nothing is created for a refused export)."""
    if out_dir.is_dir():
        where, prefix = out_dir, ".staging-"
    else:
        where = out_dir.parent
        while not where.is_dir():
            where = where.parent
        prefix = f".{out_dir.name}.staging-"
    staging = Path(tempfile.mkdtemp(prefix=prefix, dir=where))
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _move_into(staging: Path, out_dir: Path, model_files: list[str]) -> None:
    """The staged files into ``out_dir``: each model before its manifest (a manifest never
    points at a model that is not there yet), then the figure, and the report last."""
    names = [name for model in model_files for name in (model, model + ".manifest.json")]
    names += [name for name in (_FIGURE, "report.json") if (staging / name).exists()]
    for name in names:
        (out_dir / name).parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging / name, out_dir / name)


_GENERATE_CHUNK = 500


def _generate(trained: TrainedGenerator, latents: np.ndarray) -> np.ndarray:
    # In chunks: 10,000 DCGAN images in one call would hold ~1.5 GB of activations.
    return np.concatenate([trained(latents[i : i + _GENERATE_CHUNK]).numpy()
                           for i in range(0, len(latents), _GENERATE_CHUNK)])


def _stem(name: str, batch: int | None) -> str:
    return name if batch is None else f"{name}_b{batch}"


def _file_name(name: str, batch: int | None) -> str:
    return f"generator_{_stem(name, batch)}{_SPECS[name].suffix}"


def _write_artifact(trained: TrainedGenerator, name: str, batch: int | None, path: Path,
                    calibration: np.ndarray) -> None:
    raw = _CONVERTERS[name](trained, calibration, batch)
    manifest = _manifest(trained, name, path.name, batch)
    if _SPECS[name].calibrated:
        manifest = replace(manifest, calibration_samples=len(calibration))
    if name in _INT8_IO:
        manifest = _with_tflite_quantization(manifest, raw)
    if name == "onnx-int8":
        # Refuses a model whose int16 intermediates could saturate on some CPU.
        manifest = replace(manifest, integer_arithmetic=onnx_export.integer_arithmetic(raw))
    embed = embed_in_tflite if _SPECS[name].model_format == "tflite" else embed_in_onnx
    path.write_bytes(embed(raw, manifest))
    write_manifest(path, manifest)


def _manifest(trained: TrainedGenerator, variant: str, model_file: str, batch: int | None) -> Manifest:
    config = trained.config
    return Manifest(
        schema_version=1,
        format=_SPECS[variant].model_format,
        variant=variant,
        model_file=model_file,
        latent_dim=config.latent_dim,
        latent_distribution=config.latent_distribution,
        output_shape=trained.output_shape,
        output_range=trained.family.OUTPUT_RANGE,
        batch_size=batch,
        input_dtype="float32",
        output_dtype="float32",
        input_quantization=None,
        output_quantization=None,
        calibration_samples=None,
        source={"run": str(trained.run.path.resolve()), "model": config.model, "config": config.to_dict(),
                "checkpoint": Path(trained.checkpoint).name},
        tool_versions=_tool_versions(),
        created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        sha256=None,
    )


def _with_tflite_quantization(manifest: Manifest, model_bytes: bytes) -> Manifest:
    """Copy the int8 input/output scale and zero point out of the converted model."""
    from ai_edge_litert.interpreter import Interpreter

    with quiet_native_stderr():
        interpreter = Interpreter(model_content=model_bytes)
    (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
    as_quant = lambda detail: Quantization(float(detail["quantization"][0]), int(detail["quantization"][1]))  # noqa: E731
    return replace(
        manifest,
        input_dtype="int8",
        output_dtype="int8",
        input_quantization=as_quant(inp),
        output_quantization=as_quant(out),
    )


def _tool_versions() -> dict[str, str]:
    versions = {}
    for package in ("tensorflow", "tf-keras", "ai-edge-litert", "tf2onnx", "onnx", "onnxruntime", "gan-edge"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return versions


def _valid_formats() -> str:
    extra = ", ".join(f"{name}" for name in EXTRA_FORMATS)
    return ", ".join([*FORMATS, "all"]) + f", or {extra} (fine-tunes first; not part of all)"


def _check_formats(formats) -> tuple[str, ...]:
    if isinstance(formats, str):
        raise ConfigError(f"formats must be a list of names (one or more of {_valid_formats()}), got {formats!r}")
    formats = tuple(formats)
    if not formats:
        raise ConfigError(f"no export format given: expected one or more of {_valid_formats()}")
    for name in formats:
        if name != "all" and name not in _SPECS:
            raise ConfigError(f"unknown export format {name!r}: expected one of {_valid_formats()}")
    if "all" in formats:
        formats = tuple(FORMATS) + tuple(name for name in formats if name in EXTRA_FORMATS)
    return tuple(dict.fromkeys(formats))


def _check_batch_sizes(batch_sizes) -> tuple[int, ...]:
    if isinstance(batch_sizes, (str, int)):
        batch_sizes = [batch_sizes]
    checked = []
    for size in batch_sizes:
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
            raise ConfigError(
                f"batch sizes must be positive integers (e.g. --batch 1,8), got {size!r}"
            )
        if size > MAX_STATIC_BATCH:
            raise ConfigError(f"batch sizes must be at most {MAX_STATIC_BATCH:,} (GPU delegates want 1 to 8), "
                              f"got {size}")
        checked.append(int(size))
    return tuple(dict.fromkeys(checked))


def _check_gates(min_psnr_db: dict[str, float] | None) -> dict[str, float]:
    overrides = dict(min_psnr_db or {})
    for name, value in overrides.items():
        if name not in _SPECS:
            raise ConfigError(f"min_psnr_db names unknown format {name!r}: expected one of {', '.join(_SPECS)}")
        # A NaN gate would refuse every artifact, and inf one: a gate is a finite number.
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ConfigError(f"min_psnr_db[{name!r}] must be a finite number of dB, got {value!r}")
    return {**DEFAULT_MIN_PSNR_DB, **overrides}


def _check_out_dir(out_dir: Path) -> None:
    folder = out_dir
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        raise RunFolderError(f"{folder} is a file, expected a folder to hold the artifacts: "
                             f"pass another --out than {out_dir} (nothing was written)")


def _refuse_existing(paths) -> None:
    for path in paths:
        for existing in (path, Path(str(path) + ".manifest.json")):
            if existing.exists():
                raise RunFolderError(
                    f"{existing} already exists: pass a new --out folder (nothing was overwritten)"
                )


def _write_report(out_dir: Path, trained: TrainedGenerator, artifacts: list[ExportedArtifact],
                  calibration_samples: int, gates: dict[str, float], reference_task: dict[str, float],
                  fidelity_samples: int, extra: dict[str, Any]) -> None:
    # Size against the float artifact of the same file type and batch (float32
    # .tflite for TFLite formats, float .onnx for onnx-int8), when it was exported too.
    sizes = {(a.variant, a.batch_size): a.size_bytes for a in artifacts}

    def size_ratio(a: ExportedArtifact) -> float | None:
        twin = sizes.get((_SPECS[a.variant].float_twin, a.batch_size))
        return None if twin is None else round(a.size_bytes / twin, 4)

    report: dict[str, Any] = {
        "run": str(trained.run.path.resolve()),
        "model": trained.config.model,
        "fidelity_samples": fidelity_samples,
        "calibration_samples": calibration_samples,
        # The float generator's own task metrics on the same latents: an artifact's
        # are only as good as these.
        "float_generator": reference_task,
        **extra,
        "artifacts": [
            {
                "variant": a.variant,
                "file": a.path.name,
                "batch_size": a.batch_size,
                "bytes": a.size_bytes,
                "size_vs_float32": size_ratio(a),
                "seconds": round(a.seconds, 3),
                "min_psnr_db": gates[a.variant],
                # Strict JSON has no Infinity: an exact copy of the float output reports null.
                **{k: (v if math.isfinite(v) else None) for k, v in a.fidelity.items()},
            }
            for a in artifacts
        ],
    }
    atomic_write_json(out_dir / "report.json", report)
