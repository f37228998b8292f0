"""Load an exported generator and draw samples from it.

Call ``load(path)`` once (it checks the file, opens a backend, reads and checks
the manifest), then ``generate(n, seed=...)`` as often as needed; or
``generate_into(out)`` to reuse a buffer, or ``generate_from_latent(z)`` with
latents of your own. Every result is float32 in data space: int8 models are
quantized on the way in and dequantized on the way out here, so callers never
see the model's dtypes.

A ``Generator`` is safe to share between threads: concurrent calls return what
they would one at a time. Each call borrows a worker (a backend with its own
buffers) for its whole length, so with one worker, the default, calls queue for
it as for a lock; ``load(path, workers=N)`` opens the model N times and runs N
calls at once (LiteRT and ONNX Runtime release the GIL while they compute). The
default stream (seed=None) is shared by all and hands each row to one call.
``close()`` waits for calls in progress, then frees the model.
"""

from __future__ import annotations

import math
import os
import queue
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gan_edge.artifact import check_model_file, open_artifact
from gan_edge.backends import (
    DEFAULT_BACKENDS,
    BACKENDS,
    Backend,
    QuantParams,
    check_options,
    check_threads,
    check_workers,
    open_backend,
)
from gan_edge.capacity import check_memory, format_bytes
from gan_edge.errors import InputError, ManifestError
from gan_edge.latent import sample_latent as _sample_latent
from gan_edge.latent_input import LatentInput
from gan_edge.manifest import Manifest, Quantization

__all__ = ["Generator", "load"]

# Largest batch handed to a dynamic-batch model in one run: bounds the memory of
# intermediate activations (a DCGAN at 256 needs tens of MB) on small boards.
# A last, shorter chunk is padded rather than resized to, so a steady stream of
# same-sized calls never reallocates the interpreter.
_DYNAMIC_CHUNK = 256
# Tolerance when comparing the model's quantization scales with the manifest's.
_SCALE_RTOL = 1e-6
# An output array larger than this is checked against the memory there is before it is
# allocated (gan_edge.capacity: Linux would let np.empty overcommit, then kill the
# process filling it). Smaller ones skip the check, which reads /proc: the hot path.
_CHECKED_ALLOCATION = 64 << 20

Seed = int | np.integer | np.random.Generator | np.random.SeedSequence | None


def load(
    path: str | os.PathLike,
    *,
    backend: str | None = None,
    threads: int | None = None,
    accelerator: str | None = None,
    delegate: str | os.PathLike | None = None,
    delegate_options: dict[str, Any] | None = None,
    providers: list[str] | None = None,
    workers: int = 1,
) -> "Generator":
    """Open the model at ``path`` and return a ready ``Generator``.

    ``backend`` defaults by extension (.tflite -> "litert", .onnx -> "onnxruntime");
    ``threads`` None keeps the backend's default. Backend options, each refused by
    any other backend: ``accelerator`` ("cpu", "gpu", "npu", "gpu+cpu", ...) for
    "litert-compiled" (static-batch models); ``delegate`` (a TFLite delegate .so)
    and ``delegate_options`` for "litert"; ``providers`` (ONNX Runtime execution
    providers, in order) for "onnxruntime". The manifest comes from the sidecar
    ``<path>.manifest.json`` or else from the model file, each hash-checked
    (gan_edge.artifact).

    ``workers``: how many calls may run at once from different threads, each on
    its own copy of the model (so N times its memory; ``threads`` is per worker).
    ``threads`` and ``workers`` are each at most ``gan_edge.backends.max_threads()``.
    """
    # Cheap argument checks first, so a typo fails before a runtime is loaded.
    threads = check_threads(threads)
    workers = check_workers(workers)
    if backend is not None and (not isinstance(backend, str) or backend not in BACKENDS):
        raise InputError(f"unknown backend {backend!r}: expected one of {', '.join(BACKENDS)}")
    path = check_model_file(path)
    name = backend if backend is not None else DEFAULT_BACKENDS[path.suffix.lower()]
    options = check_options(
        name,
        dict(accelerator=accelerator, delegate=delegate, delegate_options=delegate_options, providers=providers),
    )
    # Read once and checked (the sidecar's sha256 or the embedded manifest's content
    # hash, and the file's structure) before any native parser sees a byte.
    artifact = open_artifact(path)
    impl = open_backend(name, artifact, threads=threads, **options)
    _check_agreement(path, artifact.manifest, impl)
    # Same bytes, same options: the copies agree with the manifest as the first does.
    more = [open_backend(name, artifact, threads=threads, **options) for _ in range(workers - 1)]
    return Generator(artifact.manifest, impl, more_backends=more)


def _check_agreement(path: Path, manifest: Manifest, impl: Backend) -> None:
    """Refuse a manifest that describes some other model than the one loaded."""

    def refuse(what: str, model_value: Any, manifest_value: Any) -> ManifestError:
        return ManifestError(
            f"{path.name}: the model has {what} {model_value} but its manifest says "
            f"{manifest_value}: the manifest belongs to another model; re-export with "
            f"`gan-edge export`"
        )

    if manifest.format != impl.format:
        raise refuse("format", repr(impl.format), repr(manifest.format))
    in_shape, out_shape = impl.input_shape, impl.output_shape
    if len(in_shape) != 2:
        raise refuse("input shape", in_shape, f"(batch, {manifest.latent_dim})")
    if in_shape[1] != manifest.latent_dim:
        raise refuse("latent dim", in_shape[1], f"latent_dim={manifest.latent_dim}")
    if in_shape[0] != manifest.batch_size:
        raise refuse("batch dim", in_shape[0], f"batch_size={manifest.batch_size}")
    per_sample = out_shape[1:]
    if len(per_sample) != len(manifest.output_shape) or any(
        d is not None and d != m for d, m in zip(per_sample, manifest.output_shape)
    ):
        raise refuse("output shape per sample", per_sample, f"output_shape={manifest.output_shape}")
    for side in ("input", "output"):
        model_dtype = getattr(impl, f"{side}_dtype").name
        manifest_dtype = getattr(manifest, f"{side}_dtype")
        if model_dtype != manifest_dtype:
            raise refuse(f"{side} dtype", model_dtype, f"{side}_dtype={manifest_dtype!r}")
        model_q: QuantParams | None = getattr(impl, f"{side}_quantization")
        manifest_q: Quantization | None = getattr(manifest, f"{side}_quantization")
        if model_q is None:
            continue  # the format keeps none (ONNX): the manifest is the only source
        if manifest_q is None or model_q.zero_point != manifest_q.zero_point or abs(
            model_q.scale - manifest_q.scale
        ) > _SCALE_RTOL * abs(manifest_q.scale):
            shown = None if manifest_q is None else (manifest_q.scale, manifest_q.zero_point)
            raise refuse(
                f"{side} quantization (scale, zero_point)",
                (model_q.scale, model_q.zero_point),
                f"{side}_quantization={shown}",
            )


def _check_n(n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise InputError(f"n must be a positive int, got {n!r} ({type(n).__name__})")
    if n < 1:
        raise InputError(f"n must be a positive int, got {n}")
    return int(n)


def _rng(seed: Seed, default: np.random.Generator | None = None) -> np.random.Generator:
    if seed is None and default is not None:
        return default
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is not None and (
        isinstance(seed, bool)
        or not isinstance(seed, (int, np.integer, np.random.Generator, np.random.SeedSequence))
        or (isinstance(seed, (int, np.integer)) and seed < 0)
    ):
        raise InputError(
            f"seed must be None, a non-negative int or a numpy Generator, got {seed!r}"
        )
    return np.random.default_rng(seed)


def _effective_quant(
    model_q: QuantParams | None, manifest_q: Quantization | None
) -> QuantParams | None:
    if model_q is not None:
        return model_q
    if manifest_q is not None:
        return QuantParams(manifest_q.scale, manifest_q.zero_point)
    return None


def _shape_str(dims: tuple) -> str:
    return "(" + ", ".join(str(d) for d in dims) + ")"


class _Worker:
    """A backend and the state a call changes besides it: used by one call at a time."""

    __slots__ = ("backend", "latents", "step", "check_output")

    def __init__(self, backend: Backend, latents: LatentInput) -> None:
        self.backend, self.latents = backend, latents
        # The chunk size the backend was last reserved for; 0 = not yet. A new size
        # reserves, resizes the scratch and checks the output shape once.
        self.step, self.check_output = 0, True


class Generator:
    """A loaded generator. Build it with ``load()`` (or ``Generator.from_file``).

    Safe to share between threads (see the module docstring); ``close()`` it, or use
    it in a ``with`` block, to free the model before the object is collected.
    """

    def __init__(self, manifest: Manifest, backend: Backend, *, more_backends: Sequence[Backend] = ()) -> None:
        self.manifest = manifest
        self._backend = backend
        # The parameters actually used: the model's own where it records them
        # (LiteRT), else the manifest's (ONNX); load() checked they agree.
        self._in_q = _effective_quant(backend.input_quantization, manifest.input_quantization)
        self._out_q = _effective_quant(backend.output_quantization, manifest.output_quantization)
        self._in_dtype = backend.input_dtype
        self._batch = manifest.batch_size
        # Latents into the input buffer: drawn or given, quantized for an int8 input.
        # One per worker (each writes its own scratch), all on one default stream.
        self._latents = LatentInput(manifest.latent_distribution, manifest.latent_dim, self._in_dtype, self._in_q)
        self._workers = [_Worker(backend, self._latents)] + [
            _Worker(b, LatentInput(manifest.latent_distribution, manifest.latent_dim, self._in_dtype,
                                   self._in_q, self._latents.stream))
            for b in more_backends
        ]
        # Idle workers. A call takes one for its whole length, so no two calls ever
        # share a backend's buffers; get() + put() costs about what a Lock does.
        self._idle: queue.SimpleQueue[_Worker] = queue.SimpleQueue()
        for worker in self._workers:
            self._idle.put(worker)
        self._closed = False
        self._close_lock = threading.Lock()
        # --- precomputed for the hot path (generate at batch 1 costs a few us, so
        # every attribute lookup and argument check saved there shows) ---
        self._sample_shape = tuple(manifest.output_shape)
        self._sample_bytes = 4 * math.prod(self._sample_shape)  # float32
        # int8 output -> float32 data space in one table lookup, bit for bit what
        # (q - zero_point) * scale gives.
        self._lut = None
        if self._out_q is not None and backend.output_dtype == np.int8:
            q = np.arange(256, dtype=np.uint8).view(np.int8).astype(np.float32)
            self._lut = (q - np.float32(self._out_q.zero_point)) * np.float32(self._out_q.scale)

    @classmethod
    def from_file(cls, path: str | os.PathLike, **options: Any) -> "Generator":
        """Same as ``gan_edge.load``, named like the reference runtimes' constructors."""
        return load(path, **options)

    def __repr__(self) -> str:
        workers = f", workers={len(self._workers)}" if len(self._workers) > 1 else ""
        return (
            f"Generator(model={self.manifest.model_file!r}, backend={self._backend.name!r}, "
            f"variant={self.manifest.variant!r}, latent_dim={self.latent_dim}, "
            f"output_shape={self.output_shape}{workers})"
        )

    # --- what the model is ------------------------------------------------------------

    @property
    def latent_dim(self) -> int:
        return self.manifest.latent_dim

    @property
    def output_shape(self) -> tuple[int, ...]:
        """Shape of one sample, without the batch dimension."""
        return self.manifest.output_shape

    @property
    def backend(self) -> Backend:
        """The first worker's backend (the others load the same file the same way)."""
        return self._backend

    @property
    def workers(self) -> int:
        """How many calls run at once; more wait for a worker to be free."""
        return len(self._workers)

    def input_details(self) -> dict[str, Any]:
        """The model's input as LiteRT reports it: shape, dtype, (scale, zero_point)."""
        return self._details(self._backend.input_shape, self._in_dtype, self._in_q)

    def output_details(self) -> dict[str, Any]:
        return self._details(self._backend.output_shape, self._backend.output_dtype, self._out_q)

    @staticmethod
    def _details(shape: tuple, dtype: np.dtype, q: QuantParams | None) -> dict[str, Any]:
        return {"shape": shape, "dtype": dtype, "quantization": tuple(q) if q else (0.0, 0)}

    # --- drawing samples --------------------------------------------------------------

    def sample_latent(self, n: int, seed: Seed = None) -> np.ndarray:
        """``n`` latents, float32 (n, latent_dim), from the manifest's distribution."""
        n = _check_n(n)
        rng = _rng(seed, self._latents.default_rng)
        return _sample_latent(self.manifest.latent_distribution, n, self.latent_dim, rng)

    def generate(self, n: int, seed: Seed = None) -> np.ndarray:
        """``n`` samples, float32 (n, *output_shape), in data space."""
        # Plain positive int and None / numpy Generator seeds skip the full checks.
        if type(n) is not int or n < 1:
            n = _check_n(n)
        rng = None if seed is None else self._rng_for(seed)  # None: the default stream
        if n * self._sample_bytes > _CHECKED_ALLOCATION:  # inline: one multiply on the hot path
            return self._run_into(self._new_out(n), rng)
        return self._run_into(np.empty((n, *self._sample_shape), dtype=np.float32), rng)

    def generate_from_latent(self, z: np.ndarray) -> np.ndarray:
        """Samples for the given latents ``z`` (n, latent_dim), floating and finite."""
        z = self._check_latent(z)
        return self._run_into(self._new_out(z.shape[0]), None, z)

    def generate_into(self, out: np.ndarray, seed: Seed = None) -> np.ndarray:
        """Fill ``out`` (float32, (n, *output_shape)) with n fresh samples; returns it."""
        # One combined test for the common, valid case; _check_out names the problem.
        if not (
            type(out) is np.ndarray
            and out.dtype == np.float32
            and out.shape[1:] == self._sample_shape
            and out.shape[0] > 0
            and out.flags.writeable
        ):
            self._check_out(out)
        return self._run_into(out, None if seed is None else self._rng_for(seed))

    def _rng_for(self, seed: Seed) -> np.random.Generator:
        # A numpy Generator skips the full checks: it is the hot path's other seed.
        if type(seed) is np.random.Generator:
            return seed
        return _rng(seed)

    # --- lifetime ---------------------------------------------------------------------

    def close(self) -> None:
        """Free the model. Calls in progress finish first; later ones raise InputError.

        Safe to call from any thread, and more than once.
        """
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        # Take every worker back: one that a call holds returns when that call ends,
        # so no backend is freed under a running call.
        workers = [self._idle.get() for _ in self._workers]
        for worker in workers:
            worker.backend.close()
        # Back in the queue, so calls waiting for a worker wake up and see _closed.
        for worker in workers:
            self._idle.put(worker)

    def __enter__(self) -> "Generator":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    # --- inside -----------------------------------------------------------------------

    def _new_out(self, n: int) -> np.ndarray:
        """An empty (n, *output_shape) float32 array, refused when it cannot fit in memory."""
        nbytes = n * self._sample_bytes
        if nbytes > _CHECKED_ALLOCATION:
            check_memory(nbytes, self._request(n), "generate fewer at a time, or into one reused buffer "
                         "with generate_into")
        try:
            return np.empty((n, *self._sample_shape), dtype=np.float32)
        except MemoryError:  # where available_memory() knows nothing, numpy still refuses
            raise InputError(f"{self._request(n)} needs {format_bytes(nbytes)} of memory, more than numpy "
                             f"could allocate: generate fewer at a time, or into one reused buffer with "
                             f"generate_into") from None

    def _request(self, n: int) -> str:
        return f"{n:,} samples of shape {self._sample_shape}"

    def _check_out(self, out: Any) -> None:
        expected = _shape_str(("n", *self.output_shape))
        if not isinstance(out, np.ndarray):
            raise InputError(
                f"out must be a float32 numpy array of shape {expected}, got {type(out).__name__}"
            )
        if out.dtype != np.float32:
            raise InputError(f"out must have dtype float32, got {out.dtype}")
        if out.ndim != 1 + len(self.output_shape) or out.shape[1:] != self.output_shape:
            raise InputError(f"out must have shape {expected}, got {out.shape}")
        if out.shape[0] < 1:
            raise InputError(f"out must have at least one row: shape {expected}, got {out.shape}")
        if not out.flags.writeable:
            raise InputError("out must be writeable, got a read-only array")

    def _check_latent(self, z: Any) -> np.ndarray:
        expected = _shape_str(("n", self.latent_dim))
        try:
            z = np.asarray(z)
        except ValueError as exc:  # ragged nested lists
            raise InputError(f"latent must be an array of shape {expected}: {exc}") from None
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise InputError(f"latent must have shape {expected}, got {z.shape}")
        if z.shape[0] < 1:
            raise InputError(f"latent must have at least one row: shape {expected}, got {z.shape}")
        if z.dtype.kind != "f":
            raise InputError(f"latent must have a floating dtype (float32), got {z.dtype}")
        # Cast first: a float64 value beyond float32's range becomes inf here, and
        # is reported below rather than as a numpy warning.
        with np.errstate(over="ignore"):
            z = z.astype(np.float32, copy=False)
        finite = np.isfinite(z)
        if not finite.all():
            bad_rows = np.flatnonzero(~finite.all(axis=1))
            raise InputError(
                f"latent must be finite, got {int((~finite).sum())} NaN/inf values "
                f"in {bad_rows.size} rows (first: row {int(bad_rows[0])})"
            )
        return z

    def _run_into(
        self, out: np.ndarray, rng: np.random.Generator | None, z: np.ndarray | None = None
    ) -> np.ndarray:
        """Fill ``out`` from latents ``z``, or drawn from ``rng`` (both None: the default
        stream), chunk by chunk, on a worker of its own.

        Latents go straight into the model's input buffer and outputs straight from
        its output buffer into ``out``: in steady state no array is allocated.
        Latents are drawn chunk by chunk in order, which is the same stream as one
        draw of all ``n`` (numpy fills arrays value by value).
        """
        worker = self._idle.get()  # waits while every worker is busy
        try:
            if self._closed:
                raise InputError(
                    f"this generator ({self.manifest.model_file}) was closed: load it again to generate"
                )
            n = out.shape[0]
            step = self._batch if self._batch is not None else min(n, _DYNAMIC_CHUNK)
            backend, latents = worker.backend, worker.latents
            if step != worker.step:
                # Once per chunk size, not per call: a steady stream of same-sized
                # calls never reaches this.
                backend.reserve(step)
                latents.reserve(step)
                worker.step, worker.check_output = step, True
            if n <= step:  # the common case, one chunk: no slicing, no loop
                latents.write(backend.input_buffer(), n, rng, z, 0)
                backend.invoke()
                self._read_output(worker, backend.output_buffer(), out)
                return out
            for start in range(0, n, step):
                stop = min(start + step, n)
                # Each buffer is passed straight in and dropped when the call returns:
                # LiteRT must see no live view of its memory at invoke().
                latents.write(backend.input_buffer(), stop - start, rng, z, start)
                backend.invoke()
                self._read_output(worker, backend.output_buffer(), out[start:stop])
            return out
        finally:
            self._idle.put(worker)

    def _read_output(self, worker: _Worker, y: np.ndarray, dst: np.ndarray) -> None:
        if y.shape[0] != dst.shape[0]:
            y = y[: dst.shape[0]]
        if worker.check_output:  # once per chunk size: the shape cannot change in between
            if y.shape[1:] != self.manifest.output_shape:
                raise ManifestError(
                    f"the model returned samples of shape {y.shape[1:]} but its manifest "
                    f"says output_shape={self.output_shape}"
                )
            worker.check_output = False
        if self._lut is not None:
            self._lut.take(y.view(np.uint8), out=dst, mode="wrap")
        elif self._out_q is None:
            np.copyto(dst, y, casting="unsafe")
        else:
            scale, zero_point = self._out_q
            np.subtract(y, zero_point, out=dst, dtype=np.float32, casting="unsafe")
            dst *= np.float32(scale)
