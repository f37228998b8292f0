"""LiteRT ``CompiledModel`` backend: the same .tflite on CPU, GPU or NPU.

Construct with an ``Artifact`` (gan_edge.artifact) and ``accelerator=`` "cpu" (default), "gpu", "npu" or a
``+``-joined set such as "gpu+cpu" (ops the first cannot run go to the CPU), then
use it like any ``Backend``. LiteRT compiles the whole graph for the accelerator
when the model loads, so only static-batch models are taken (its GPU path refuses
dynamic tensors): export with ``gan-edge export RUN --batch 1``.

An accelerator that is asked for and cannot be used is refused with
``BackendUnavailable`` naming what is missing and what works here; nothing falls
back to the CPU unless "cpu" is in the set. LiteRT itself fails loudly for a
missing GPU, but with "npu+cpu" and no vendor dispatch library it quietly runs
everything on the CPU (its own environment.py says so), hence the NPU check below.

Per batch: ``input_buffer()`` is a numpy array of ours; ``invoke()`` copies it into
LiteRT's input TensorBuffer, runs, and copies the result into a numpy array that
``output_buffer()`` returns (LiteRT 2.3 refuses host-memory buffers for tensors
without a dims signature, so a copy each way is the floor).
"""

from __future__ import annotations

import ctypes
import sys
from pathlib import Path

import numpy as np

from gan_edge.artifact import Artifact
from gan_edge.backends import Backend, QuantParams, check_threads
from gan_edge.backends.litert import _quant, _shape, litert_message
from gan_edge.errors import BackendUnavailable, InputError, ModelFileError
from gan_edge.io import quiet_native_stderr

__all__ = ["ACCELERATORS", "CompiledModelBackend", "gpu_refusal", "parse_accelerator"]

ACCELERATORS = ("cpu", "gpu", "npu")
# Only the types a generator's I/O uses; TensorBuffer names them by these strings.
_DTYPE_NAMES = {np.dtype(np.float32): "float32", np.dtype(np.int8): "int8"}


def parse_accelerator(text: str) -> tuple[str, ...]:
    """"gpu+cpu" -> ("gpu", "cpu"); unknown or repeated names are refused."""
    if not isinstance(text, str) or not text:
        raise InputError(f"accelerator must be one of {', '.join(ACCELERATORS)} or a "
                         f"'+'-joined set such as 'gpu+cpu', got {text!r}")
    parts = tuple(part.strip().lower() for part in text.split("+"))
    bad = [p for p in parts if p not in ACCELERATORS]
    if bad or len(set(parts)) != len(parts):
        raise InputError(
            f"accelerator must be one of {', '.join(ACCELERATORS)} or a '+'-joined set "
            f"such as 'gpu+cpu', got {text!r}"
        )
    return parts


def _flags(parts: tuple[str, ...]):
    from ai_edge_litert.hardware_accelerator import HardwareAccelerator

    flags = HardwareAccelerator(0)
    for part in parts:
        flags |= HardwareAccelerator[part.upper()]
    return flags


def gpu_refusal() -> str | None:
    """Why LiteRT's GPU accelerator must not start in this process, or None.

    It loads the system's GPU driver into the process; Mesa's Vulkan drivers link their
    own LLVM, whose option registry clashes with TensorFlow's LLVM: the process aborts
    (a segfault in a later XLA compile, "free(): invalid pointer" at exit). Which driver
    loads is known only once it has, so any process with TensorFlow is refused.
    """
    if "tensorflow" in sys.modules:
        return ("TensorFlow is loaded, and LiteRT's GPU accelerator would load the system's GPU driver beside "
                "it (Mesa's Vulkan drivers bring an LLVM that clashes with TensorFlow's and can abort the "
                "process): run generation in a process without TensorFlow, e.g. `gan-edge generate`")
    return None


def _npu_library_error() -> str | None:
    """Why no NPU can be used here, or None when a vendor dispatch library loads."""
    from ai_edge_litert import environment

    # The directory LiteRT's Environment would pick itself (private, pinned 2.3).
    folder = environment._autodiscover_dispatch_library_path()
    if not folder:
        return "no vendor NPU dispatch library (ai_edge_litert/vendors/*/dispatch) is installed"
    for lib in sorted(Path(folder).glob("*.so")):
        try:
            ctypes.CDLL(str(lib))
        except OSError as exc:
            return f"the NPU dispatch library {lib.name} cannot load: {exc}"
    return None


def _static_io(artifact: Artifact):
    """(input, output) of the model as (shape, dtype, QuantParams | None), after refusing a
    model whose tensors declare shapes other than their ops compute.

    CompiledModel sizes its buffers from the shapes the file declares, and its kernels
    write what the ops compute: a fuzzed output shape of [1, 28, 3, 1] under a 28x28
    DEPTH_TO_SPACE aborted the process. LiteRT's Interpreter shows the declared shapes
    until it allocates and the computed ones after (milliseconds, once per load).
    """
    from ai_edge_litert.interpreter import Interpreter

    try:
        interpreter = Interpreter(model_content=artifact.data)
        declared = {d["index"]: [int(n) for n in d["shape"]] for d in interpreter.get_tensor_details()}
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise ModelFileError(f"LiteRT cannot load {artifact.path}: {litert_message(exc)}") from None
    for detail in interpreter.get_tensor_details():
        computed = [int(n) for n in detail["shape"]]
        if computed != declared[detail["index"]]:
            raise ModelFileError(
                f"LiteRT cannot compile {artifact.path.name}: tensor {detail['index']} ({detail['name']}) "
                f"declares shape {declared[detail['index']]} but its op computes {computed}"
            )
    inputs, outputs = interpreter.get_input_details(), interpreter.get_output_details()
    if len(inputs) != 1 or len(outputs) != 1:
        raise ModelFileError(
            f"{artifact.path} has {len(inputs)} inputs and {len(outputs)} outputs: expected a generator "
            f"with 1 input (the latent) and 1 output"
        )
    sides = []
    for detail in (inputs[0], outputs[0]):
        dtype = np.dtype(detail["dtype"])
        if dtype not in _DTYPE_NAMES:
            raise ModelFileError(f"tensor {detail['name']!r} of {artifact.path.name} is {dtype}: "
                                 f"expected float32 or int8")
        sides.append((_shape(detail), dtype, _quant(detail)))
    return sides


class CompiledModelBackend(Backend):
    name = "litert-compiled"
    format = "tflite"

    def __init__(self, artifact: Artifact, *, threads: int | None = None, accelerator: str = "cpu") -> None:
        from ai_edge_litert import _pywrap_litert_tensor_buffer_wrapper as tb
        from ai_edge_litert.compiled_model import CompiledModel
        from ai_edge_litert.options import CpuOptions, Options

        threads = check_threads(threads)
        self.accelerator = parse_accelerator(accelerator)
        if "gpu" in self.accelerator and (reason := gpu_refusal()) is not None:
            raise BackendUnavailable(
                f"accelerator {'+'.join(self.accelerator)!r} is refused in this process: {reason}; "
                f"available: {', '.join(self.available(artifact))}"
            )
        self._artifact, self._path = artifact, artifact.path
        self._model_bytes = artifact.data  # checked by open_artifact; LiteRT reads weights from it
        (self._in_shape, self._in_dtype, self._in_q), (self._out_shape, self._out_dtype, self._out_q) = (
            _static_io(artifact)
        )
        if None in self._in_shape or None in self._out_shape:
            raise InputError(
                f"backend 'litert-compiled' needs a static-batch model, {self._path.name} has "
                f"input shape {self._in_shape}: export it with `gan-edge export RUN_DIR --batch 1`"
            )
        if "npu" in self.accelerator:
            reason = _npu_library_error()
            if reason is not None:
                raise BackendUnavailable(
                    f"accelerator 'npu' is not usable here: {reason}; available: "
                    f"{', '.join(self.available(artifact))}"
                )
        options = Options(
            hardware_accelerators=_flags(self.accelerator),
            # None keeps the Interpreter backend's default of one thread.
            cpu_options=CpuOptions(num_threads=threads or 1),
        )
        try:
            with quiet_native_stderr():  # LiteRT logs every registry step at INFO
                self._model = CompiledModel.from_buffer(self._model_bytes, options=options)
        except RuntimeError as exc:
            if self.accelerator == ("cpu",):
                reason = litert_message(exc, last_line=True)
                raise ModelFileError(f"LiteRT cannot compile {self._path}: {reason}") from None
            available = self.available(artifact)
            missing = [a for a in self.accelerator if a not in available]
            what = (
                f"no usable {'/'.join(missing).upper()} (LiteRT's GPU accelerator needs an OpenCL, "
                f"Vulkan or Metal driver)" if missing else "some ops have no kernel on it"
            )
            raise BackendUnavailable(
                f"accelerator {'+'.join(self.accelerator)!r} cannot run {self._path.name} here: "
                f"{what}; LiteRT says: {litert_message(exc, last_line=True)}; available: {', '.join(available)}"
            ) from None
        try:
            self._inputs = self._model.create_input_buffers(0)
            self._outputs = self._model.create_output_buffers(0)
        except RuntimeError as exc:  # a fuzzed signature (a name whose string is null) fails only here
            raise ModelFileError(f"LiteRT cannot compile {self._path}: {litert_message(exc, last_line=True)}") from None
        # Host staging arrays, allocated once: invoke() copies through them.
        self._x = np.zeros(self._in_shape, dtype=self._in_dtype)
        self._y = np.zeros(self._out_shape, dtype=self._out_dtype)
        self._in_caps = [b.capsule for b in self._inputs]
        self._out_caps = [b.capsule for b in self._outputs]
        # The raw pybind calls: TensorBuffer.write/read re-check dtypes and allocate
        # on every call, which costs more than a small model's inference.
        self._write, self._read = tb.WriteTensorBuffer, tb.ReadTensorToBuffer
        self._run = self._model._model.RunByIndex
        self._x_flat, self._y_flat = self._x.reshape(-1), self._y.reshape(-1)
        self._in_name, self._out_name = _DTYPE_NAMES[self._in_dtype], _DTYPE_NAMES[self._out_dtype]
        # CompiledModel allocates its tensors at the first run, not at compile time: run once
        # now, so a model that cannot run is refused by load(), as the Interpreter refuses it.
        self.invoke()

    @staticmethod
    def available(artifact: Artifact) -> list[str]:
        """The accelerators that compile the artifact's model on their own here (CPU always)."""
        from ai_edge_litert.compiled_model import CompiledModel

        found = ["cpu"]
        for name in ("gpu", "npu"):
            if (name == "gpu" and gpu_refusal() is not None) or (name == "npu" and _npu_library_error() is not None):
                continue
            try:
                with quiet_native_stderr():
                    CompiledModel.from_buffer(artifact.data, hardware_accel=_flags((name,)))
            except RuntimeError as exc:
                if "not accelerated" not in str(exc):  # present, but not for every op
                    continue
            found.append(name)
        return found

    @property
    def input_shape(self) -> tuple[int | None, ...]:
        return self._in_shape

    @property
    def output_shape(self) -> tuple[int | None, ...]:
        return self._out_shape

    @property
    def input_dtype(self) -> np.dtype:
        return self._in_dtype

    @property
    def output_dtype(self) -> np.dtype:
        return self._out_dtype

    @property
    def input_quantization(self) -> QuantParams | None:
        return self._in_q

    @property
    def output_quantization(self) -> QuantParams | None:
        return self._out_q

    def reserve(self, batch: int) -> None:
        if batch != self._in_shape[0]:
            raise InputError(
                f"{self._path.name} accepts input shape {self._in_shape} (static batch), got batch {batch}"
            )

    def input_buffer(self) -> np.ndarray:
        return self._x

    def invoke(self) -> None:
        self._write(self._in_caps[0], self._x_flat, self._in_name)
        try:
            self._run(0, self._in_caps, self._out_caps)
        except RuntimeError as exc:
            raise ModelFileError(f"LiteRT cannot run {self._path}: {litert_message(exc, last_line=True)}") from None
        self._read(self._out_caps[0], self._y_flat, self._out_name)

    def output_buffer(self) -> np.ndarray:
        return self._y

    def _release(self) -> None:
        # Buffers before the model they were made for. LiteRT frees each one when its
        # last Python reference goes, and the capsules and bound RunByIndex are references.
        self._in_caps = self._out_caps = self._inputs = self._outputs = None
        self._run = self._model = None

    def run(self, x: np.ndarray) -> np.ndarray:
        if x.shape != self._in_shape or x.dtype != self._in_dtype:
            raise InputError(
                f"{self._path.name} accepts a {self._in_dtype} array of shape {self._in_shape}, "
                f"got {x.dtype} {x.shape}"
            )
        np.copyto(self._x, x)
        self.invoke()
        return self._y.copy()
