"""ONNX Runtime backend for .onnx models (optional: ``pip install gan-edge[onnx]``).

Construct with an ``Artifact`` (gan_edge.artifact: bytes already checked), read the ``input_*`` / ``output_*`` properties, then call
``run(x)``. Runs on the CPUExecutionProvider unless ``providers`` names others
(e.g. ``["CUDAExecutionProvider", "CPUExecutionProvider"]``, tried in order); a
provider this onnxruntime build lacks is refused, never skipped. ONNX keeps no quantization
parameters on graph inputs/outputs (quantized models use float I/O with QDQ
nodes inside), so ``input_quantization`` / ``output_quantization`` are None and
the manifest is the only source for them.
"""

from __future__ import annotations

import numpy as np

from gan_edge.artifact import Artifact
from gan_edge.backends import Backend, QuantParams, check_threads
from gan_edge.errors import BackendUnavailable, InputError, ModelFileError

__all__ = ["OnnxRuntimeBackend"]

# ONNX Runtime's type strings -> numpy; anything else is refused at load.
_DTYPES = {"tensor(float)": np.float32, "tensor(int8)": np.int8}


def _shape(dims: list) -> tuple[int | None, ...]:
    # Dynamic dims come back as None or a symbolic name such as 'unk__6'.
    return tuple(d if isinstance(d, int) and d >= 0 else None for d in dims)


def _check_providers(providers: list[str] | None, available: list[str]) -> list[str]:
    """The execution providers to ask for: CPU by default, else every one available here.

    ORT itself only warns and falls back to CPU for a provider it cannot create,
    so a missing one is refused here, before the session is built.
    """
    if providers is None:
        return ["CPUExecutionProvider"]
    if isinstance(providers, str) or not all(isinstance(p, str) for p in providers) or not providers:
        raise InputError(f"providers must be a non-empty list of names, got {providers!r}")
    missing = [p for p in providers if p not in available]
    if missing:
        raise BackendUnavailable(
            f"ONNX Runtime has no {', '.join(missing)} here: available providers are "
            f"{', '.join(available)} (a GPU provider needs pip install onnxruntime-gpu)"
        )
    return list(providers)


class OnnxRuntimeBackend(Backend):
    name = "onnxruntime"
    format = "onnx"

    def __init__(
        self, artifact: Artifact, *, threads: int | None = None, providers: list[str] | None = None
    ) -> None:
        try:
            import onnxruntime as ort
            from onnxruntime.capi.onnxruntime_pybind11_state import InvalidArgument
        except ImportError:
            raise BackendUnavailable(
                "the 'onnxruntime' backend needs the onnxruntime package: "
                "pip install gan-edge[onnx]"
            ) from None
        threads = check_threads(threads)
        providers = _check_providers(providers, ort.get_available_providers())
        self._path = artifact.path
        # The checked bytes, unless weights live in files beside the model (their paths,
        # checked to stay in its folder, are resolved from the model's own path).
        source = str(self._path) if artifact.has_external_data else artifact.data
        options = ort.SessionOptions()
        if threads is not None:  # 0, ORT's default, means one thread per core
            options.intra_op_num_threads = threads
        try:
            self._session = ort.InferenceSession(source, sess_options=options, providers=providers)
        except Exception as exc:  # ORT raises its own classes (InvalidProtobuf, Fail, ...)
            raise ModelFileError(f"ONNX Runtime cannot load {self._path}: {exc}") from None
        try:  # the names in a corrupt file may not decode as UTF-8
            inputs, outputs = self._session.get_inputs(), self._session.get_outputs()
            for arg in (*inputs, *outputs):
                arg.name, arg.type, arg.shape
        except UnicodeDecodeError as exc:
            raise ModelFileError(f"ONNX Runtime cannot load {self._path}: {exc}") from None
        if len(inputs) != 1 or len(outputs) != 1:
            raise ModelFileError(
                f"{self._path} has {len(inputs)} inputs and {len(outputs)} outputs: "
                f"expected a generator with 1 input (the latent) and 1 output"
            )
        self._in, self._out = inputs[0], outputs[0]
        for arg in (self._in, self._out):
            if arg.type not in _DTYPES:
                raise ModelFileError(
                    f"{self._path} tensor {arg.name!r} has type {arg.type}: expected one "
                    f"of {', '.join(_DTYPES)}"
                )
        self._out_names = [self._out.name]
        # A provider can be built in yet fail to start (no CUDA driver): ORT then
        # drops it with a warning, so compare with what the session really uses.
        self.providers = self._session.get_providers()
        dropped = [p for p in providers if p not in self.providers]
        if dropped:
            raise BackendUnavailable(
                f"ONNX Runtime could not start {', '.join(dropped)} for {self._path.name}: "
                f"the session runs on {', '.join(self.providers)} only"
            )
        self._invalid_argument = InvalidArgument

    @property
    def input_shape(self) -> tuple[int | None, ...]:
        return _shape(self._in.shape)

    @property
    def output_shape(self) -> tuple[int | None, ...]:
        return _shape(self._out.shape)

    @property
    def input_dtype(self) -> np.dtype:
        return np.dtype(_DTYPES[self._in.type])

    @property
    def output_dtype(self) -> np.dtype:
        return np.dtype(_DTYPES[self._out.type])

    @property
    def input_quantization(self) -> QuantParams | None:
        return None

    @property
    def output_quantization(self) -> QuantParams | None:
        return None

    def _release(self) -> None:
        super()._release()
        self._session = None

    def run(self, x: np.ndarray) -> np.ndarray:
        if x.ndim != 2 or x.dtype != self.input_dtype:
            raise InputError(
                f"onnxruntime input must be a 2-D {self.input_dtype} array, "
                f"got {x.ndim}-D {x.dtype}"
            )
        try:
            return self._session.run(self._out_names, {self._in.name: x})[0]
        except self._invalid_argument as exc:  # a shape the model refuses
            raise InputError(
                f"{self._path.name} accepts input shape {self.input_shape}, got {x.shape}: {exc}"
            ) from None
