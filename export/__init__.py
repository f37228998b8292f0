"""Workstation side: turn a trained run's generator into deployable artifacts.

``export_run(run_dir, out_dir, formats=..., batch_sizes=...)`` is the entry point;
each format is one function in ``gan_edge.export.tflite`` or ``gan_edge.export.onnx``; the checks
against the float generator and the data live in ``gan_edge.export.fidelity``, the figure
in ``gan_edge.export.figures``. The formats themselves (names, defaults, gates) are
``gan_edge.export.formats``, which imports no TensorFlow.
"""

import importlib

__all__ = ["DEFAULT_FORMATS", "FORMATS", "ExportedArtifact", "export_run"]

# Imported on first use (PEP 562), so that `from gan_edge.export.formats import ...` (the
# CLI's --help) does not load the pipeline and TensorFlow with it.
_LAZY = {
    "DEFAULT_FORMATS": "gan_edge.export.formats",
    "FORMATS": "gan_edge.export.formats",
    "ExportedArtifact": "gan_edge.export.pipeline",
    "export_run": "gan_edge.export.pipeline",
}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'gan_edge.export' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
