"""Workstation side: turn a trained run's generator into deployable artifacts.

``export_run(run_dir, out_dir, formats=..., batch_sizes=...)`` is the entry point;
each format is one function in ``export.tflite`` or ``export.onnx``; the checks
against the float generator and the data live in ``export.fidelity``, the figure
in ``export.figures``.
"""

from export.pipeline import DEFAULT_FORMATS, FORMATS, ExportedArtifact, export_run

__all__ = ["DEFAULT_FORMATS", "FORMATS", "ExportedArtifact", "export_run"]
