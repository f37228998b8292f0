"""Export a run's generator: convert, embed the metadata, check, then write.

For each format: convert to bytes, embed the manifest, stage the file in a
temporary folder, load it through the edge runtime (``gan_edge.load``, exactly
as a device will), compare its samples with the float generator's from the same
latents, and only when the fidelity gate passes move it into place beside its
manifest. A refused or interrupted export leaves no artifact behind.
"""

from __future__ import annotations

import datetime
import shutil
import tempfile
import time
from dataclasses import dataclass, replace
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

import numpy as np

import gan_edge
from export import fidelity, onnx as onnx_export, tflite
from export.source import TrainedGenerator, load_generator
from gan_edge.errors import ConfigError, RunFolderError
from gan_edge.io import atomic_write_json
from gan_edge.latent import sample_latent
from gan_edge.manifest import Manifest, Quantization, embed_in_onnx, embed_in_tflite, write_manifest

__all__ = ["FORMATS", "DEFAULT_FORMATS", "ExportedArtifact", "export_run"]

# format name -> (file suffix, model format)
FORMATS: dict[str, tuple[str, str]] = {
    "float32": (".tflite", "tflite"),
    "int8": (".tflite", "tflite"),
    "onnx": (".onnx", "onnx"),
}
DEFAULT_FORMATS = ("float32", "int8", "onnx")

# Latents per artifact for the fidelity check, and for int8 calibration.
FIDELITY_SAMPLES = 10_000
DEFAULT_CALIBRATION_SAMPLES = 500


@dataclass(frozen=True)
class ExportedArtifact:
    variant: str
    path: Path
    manifest_path: Path
    size_bytes: int
    fidelity: dict[str, float]
    seconds: float


def export_run(
    run_dir: str | Path,
    out_dir: str | Path | None = None,
    *,
    formats: tuple[str, ...] = DEFAULT_FORMATS,
    calibration_samples: int = DEFAULT_CALIBRATION_SAMPLES,
    min_psnr_db: dict[str, float] | None = None,
    on_artifact: Callable[[ExportedArtifact], None] | None = None,
) -> list[ExportedArtifact]:
    """Export ``formats`` of the generator in ``run_dir`` into ``out_dir`` (default RUN_DIR/export)."""
    formats = _check_formats(formats)
    if calibration_samples < 1:
        raise ConfigError(f"calibration_samples must be positive, got {calibration_samples}")
    gates = {**fidelity.DEFAULT_MIN_PSNR_DB, **(min_psnr_db or {})}
    trained = load_generator(run_dir)
    out_dir = Path(out_dir) if out_dir is not None else trained.run.path / "export"
    targets = {name: out_dir / f"generator_{name}{FORMATS[name][0]}" for name in formats}
    _refuse_existing(targets.values())

    config = trained.config
    rng = np.random.default_rng(config.seed + 2)
    latents = sample_latent(config.latent_distribution, FIDELITY_SAMPLES, config.latent_dim, rng)
    calibration = sample_latent(config.latent_distribution, calibration_samples, config.latent_dim, rng)
    reference = trained(latents).numpy()

    out_dir.mkdir(parents=True, exist_ok=True)
    artifacts = []
    with tempfile.TemporaryDirectory(prefix=".staging-", dir=out_dir) as staging:
        for name in formats:
            started = time.perf_counter()
            staged = Path(staging) / targets[name].name
            _write_artifact(trained, name, staged, calibration)
            samples = gan_edge.load(staged).generate_from_latent(latents)
            measured = fidelity.compare(samples, reference)
            fidelity.check_gate(name, measured, gates[name])
            staged_manifest = Path(str(staged) + ".manifest.json")
            final_manifest = Path(str(targets[name]) + ".manifest.json")
            # The model first: a manifest never points at a model that is not there yet.
            shutil.move(staged, targets[name])
            shutil.move(staged_manifest, final_manifest)
            artifact = ExportedArtifact(
                name, targets[name], final_manifest, targets[name].stat().st_size, measured,
                time.perf_counter() - started,
            )
            artifacts.append(artifact)
            if on_artifact is not None:
                on_artifact(artifact)
    _write_report(out_dir, trained, artifacts, calibration_samples)
    return artifacts


def _write_artifact(trained: TrainedGenerator, name: str, path: Path, calibration: np.ndarray) -> None:
    manifest = _manifest(trained, name, path.name)
    if name == "float32":
        model_bytes = embed_in_tflite(tflite.to_float32(trained), manifest)
    elif name == "int8":
        raw = tflite.to_int8(trained, calibration)
        manifest = _with_tflite_quantization(manifest, raw, len(calibration))
        model_bytes = embed_in_tflite(raw, manifest)
    else:
        raw = onnx_export.to_float32(trained)
        model_bytes = embed_in_onnx(raw, manifest)
    path.write_bytes(model_bytes)
    write_manifest(path, manifest)


def _manifest(trained: TrainedGenerator, variant: str, model_file: str) -> Manifest:
    config = trained.config
    return Manifest(
        schema_version=1,
        format=FORMATS[variant][1],
        variant=variant,
        model_file=model_file,
        latent_dim=config.latent_dim,
        latent_distribution=config.latent_distribution,
        output_shape=trained.output_shape,
        output_range=trained.family.OUTPUT_RANGE,
        batch_size=None,
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


def _with_tflite_quantization(manifest: Manifest, model_bytes: bytes, calibration_samples: int) -> Manifest:
    """Copy the int8 input/output scale and zero point out of the converted model."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=model_bytes)
    (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
    as_quant = lambda detail: Quantization(float(detail["quantization"][0]), int(detail["quantization"][1]))  # noqa: E731
    return replace(
        manifest,
        input_dtype="int8",
        output_dtype="int8",
        input_quantization=as_quant(inp),
        output_quantization=as_quant(out),
        calibration_samples=calibration_samples,
    )


def _tool_versions() -> dict[str, str]:
    versions = {}
    for package in ("tensorflow", "tf-keras", "ai-edge-litert", "tf2onnx", "onnx", "gan-edge"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return versions


def _check_formats(formats) -> tuple[str, ...]:
    formats = tuple(formats)
    if "all" in formats:
        formats = tuple(FORMATS)
    if not formats:
        raise ConfigError(f"no export format given: expected one or more of {', '.join(FORMATS)}, all")
    for name in formats:
        if name not in FORMATS:
            raise ConfigError(f"unknown export format {name!r}: expected one of {', '.join(FORMATS)}, all")
    return tuple(dict.fromkeys(formats))


def _refuse_existing(paths) -> None:
    for path in paths:
        for existing in (path, Path(str(path) + ".manifest.json")):
            if existing.exists():
                raise RunFolderError(
                    f"{existing} already exists: pass a new --out folder (nothing was overwritten)"
                )


def _write_report(out_dir: Path, trained: TrainedGenerator, artifacts: list[ExportedArtifact],
                  calibration_samples: int) -> None:
    report: dict[str, Any] = {
        "run": str(trained.run.path.resolve()),
        "model": trained.config.model,
        "fidelity_samples": FIDELITY_SAMPLES,
        "calibration_samples": calibration_samples,
        "artifacts": [
            {
                "variant": a.variant,
                "file": a.path.name,
                "bytes": a.size_bytes,
                "seconds": round(a.seconds, 3),
                **a.fidelity,
            }
            for a in artifacts
        ],
    }
    atomic_write_json(out_dir / "report.json", report)
