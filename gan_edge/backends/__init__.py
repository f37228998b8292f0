"""Inference backends: one small interface, chosen by name.

Call ``open_backend(name, model, threads=..., **options)`` with a path or an
``Artifact`` (gan_edge.artifact: the file read once and checked); it imports the
backend's module (lazily, so ``import gan_edge`` loads no runtime), and returns
a ``Backend``, which runs the artifact's bytes. Then read its ``input_*`` / ``output_*`` properties, which
come from the model file itself, and call ``run(x)`` as often as needed, then ``close()``.
``options`` are the backend's own keywords (``BACKEND_OPTIONS`` says which backend
takes which): ``accelerator`` for litert-compiled, ``delegate`` and
``delegate_options`` for litert, ``providers`` for onnxruntime.

``Generator`` (gan_edge.generator) does quantization, batching and padding on
top; a backend only moves one batch through the model in the model's dtypes.
A backend is not safe to share between threads: ``Generator`` gives each thread
that calls at the same time a backend of its own.
"""

from __future__ import annotations

import abc
import importlib
import os
from typing import NamedTuple

import numpy as np

from gan_edge.artifact import Artifact, check_model_file, open_artifact
from gan_edge.capacity import usable_cpus
from gan_edge.errors import InputError

__all__ = [
    "BACKENDS",
    "BACKEND_OPTIONS",
    "DEFAULT_BACKENDS",
    "Backend",
    "QuantParams",
    "check_options",
    "check_threads",
    "check_workers",
    "max_threads",
    "open_backend",
]

# name -> "module:class", imported only when asked for.
BACKENDS: dict[str, str] = {
    "litert": "gan_edge.backends.litert:LiteRTBackend",
    "onnxruntime": "gan_edge.backends.onnxruntime:OnnxRuntimeBackend",
    # LiteRT's CompiledModel API: CPU, GPU or NPU through HardwareAccelerator flags.
    "litert-compiled": "gan_edge.backends.compiled_model:CompiledModelBackend",
}
# name -> the keyword options its constructor takes besides threads; any other is
# refused by name before the runtime is imported.
BACKEND_OPTIONS: dict[str, tuple[str, ...]] = {
    "litert": ("delegate", "delegate_options"),
    "onnxruntime": ("providers",),
    "litert-compiled": ("accelerator",),
}
# file extension -> the backend that reads it when none is named.
DEFAULT_BACKENDS: dict[str, str] = {".tflite": "litert", ".onnx": "onnxruntime"}


class QuantParams(NamedTuple):
    """A tensor's affine quantization, as the reference runtimes report it."""

    scale: float
    zero_point: int


class Backend(abc.ABC):
    """One loaded model, one input (latent) and one output (samples).

    Subclasses set ``name`` and ``format`` and load ``artifact.data`` in ``__init__``
    (never the file again: those bytes are the ones checked); ``input_shape`` /
    ``output_shape`` hold None for a dynamic dimension.
    """

    name: str
    format: str  # the manifest's `format` this backend reads: "tflite" or "onnx"

    @abc.abstractmethod
    def __init__(self, artifact: Artifact, *, threads: int | None = None, **options) -> None: ...

    @property
    @abc.abstractmethod
    def input_shape(self) -> tuple[int | None, ...]: ...

    @property
    @abc.abstractmethod
    def output_shape(self) -> tuple[int | None, ...]: ...

    @property
    @abc.abstractmethod
    def input_dtype(self) -> np.dtype: ...

    @property
    @abc.abstractmethod
    def output_dtype(self) -> np.dtype: ...

    @property
    @abc.abstractmethod
    def input_quantization(self) -> QuantParams | None:
        """Scale and zero point stored in the model, or None (float, or not recorded)."""

    @property
    @abc.abstractmethod
    def output_quantization(self) -> QuantParams | None: ...

    @abc.abstractmethod
    def run(self, x: np.ndarray) -> np.ndarray:
        """Run one batch: ``x`` (b, latent_dim) in ``input_dtype``; returns a new array
        of shape (b, *output_shape) in ``output_dtype``, owned by the caller."""

    # --- the allocation-free path, in the order to call it ---------------------------
    # reserve(b) once per batch size, then per batch: write input_buffer(), invoke(),
    # read output_buffer(). Like LiteRT's ``Interpreter.tensor()``, a buffer is valid
    # only until the next invoke() or reserve(): fetch it again, never keep it. These
    # defaults work through run(); a backend overrides them to skip its copies.

    def reserve(self, batch: int) -> None:
        """Make the model ready for batches of ``batch`` rows (resizes a dynamic one)."""
        x = getattr(self, "_default_input", None)
        if x is None or x.shape[0] != batch:
            shape = (batch, *self.input_shape[1:])
            self._default_input = np.zeros(shape, dtype=self.input_dtype)
            self._default_output = None

    def input_buffer(self) -> np.ndarray:
        """The (batch, latent_dim) input in ``input_dtype``, to be written in place."""
        return self._default_input

    def invoke(self) -> None:
        """Run the model on what was written into ``input_buffer()``."""
        self._default_output = self.run(self._default_input)

    def output_buffer(self) -> np.ndarray:
        """The (batch, *output_shape) result of the last invoke(), in ``output_dtype``."""
        return self._default_output

    # --- the end ---------------------------------------------------------------------

    def close(self) -> None:
        """Free the native model; every later call raises InputError, none crashes.

        Not while another thread is inside a call: ``Generator.close`` waits for those.
        """
        self._release()
        refuse = _refuse_closed(self.name)
        # Instance attributes shadow the methods, so the open path pays nothing.
        for method in ("run", "reserve", "input_buffer", "invoke", "output_buffer"):
            setattr(self, method, refuse)

    def _release(self) -> None:
        """Drop the references that keep native memory alive (a backend adds its own)."""
        self._default_input = self._default_output = None


def _refuse_closed(name: str):
    def refuse(*args, **kwargs):
        raise InputError(f"this {name} backend was closed: load the model again to run it")

    return refuse


# Threads (and workers, each a copy of the model with threads of its own) per usable
# core. Past one per core they only take turns (no faster: `gan-edge bench --threads`
# shows it); by the thousand they exhaust the process's thread and stack limits, and
# LiteRT then crashes instead of failing (100,000 segfaulted in bench, 40,000 in
# close()). Four leave room for oversubscription experiments and SMT siblings.
THREADS_PER_CPU = 4


def max_threads() -> int:
    """The most ``threads`` (and ``workers``) a generator may ask for on this machine."""
    return THREADS_PER_CPU * usable_cpus()


def _check_bound(name: str, value: int) -> int:
    if value > (bound := max_threads()):
        raise InputError(
            f"{name} must be at most {bound} ({THREADS_PER_CPU} per usable core, {usable_cpus()} here), got {value}"
        )
    return value


def check_threads(threads: int | None) -> int | None:
    """None (the runtime's default) or a positive int up to ``max_threads()``, else InputError."""
    if threads is None:
        return None
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
        raise InputError(f"threads must be None or a positive int, got {threads!r}")
    return _check_bound("threads", int(threads))


def check_workers(workers: int) -> int:
    """A positive int up to ``max_threads()``, else InputError naming the value."""
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise InputError(f"workers must be a positive int (calls that may run at once), got {workers!r}")
    return _check_bound("workers", int(workers))


def _backend_class(name: str) -> type[Backend]:
    if name not in BACKENDS:
        valid = ", ".join(BACKENDS)
        raise InputError(f"unknown backend {name!r}: expected one of {valid}")
    module_name, class_name = BACKENDS[name].split(":")
    return getattr(importlib.import_module(module_name), class_name)


def check_options(name: str, options: dict) -> dict:
    """Drop options left at None; refuse one that backend ``name`` does not take."""
    given = {key: value for key, value in options.items() if value is not None}
    for key in given:
        if key not in BACKEND_OPTIONS[name]:
            takers = [b for b, keys in BACKEND_OPTIONS.items() if key in keys]
            raise InputError(
                f"{key}= is an option of backend {takers[0]!r}, got backend {name!r}: "
                f"pass backend={takers[0]!r}"
            )
    return given


def open_backend(
    name: str, model: str | os.PathLike | Artifact, *, threads: int | None = None, **options
) -> Backend:
    """Load ``model`` (a path, or an Artifact already opened) with the backend called ``name``.

    A path is opened through ``open_artifact`` and needs no manifest; one it has is checked.
    """
    cls = _backend_class(name)
    options = check_options(name, options)
    threads = check_threads(threads)
    path = model.path if isinstance(model, Artifact) else check_model_file(model)
    if path.suffix.lower() != f".{cls.format}":
        raise InputError(
            f"backend {name!r} reads .{cls.format} files, got {path.name}: pass "
            f"backend={DEFAULT_BACKENDS[path.suffix.lower()]!r} or leave it out"
        )
    artifact = model if isinstance(model, Artifact) else open_artifact(path, need_manifest=False)
    return cls(artifact, threads=threads, **options)
