"""LiteRT (ai-edge-litert) backend for .tflite models.

Construct with an ``Artifact`` (gan_edge.artifact: bytes already checked), read the ``input_*`` / ``output_*`` properties (from the
model's tensor details), then call ``run(x)``, or, without copies, ``reserve(b)``
then per batch: write ``input_buffer()``, ``invoke()``, read ``output_buffer()``.
The buffers are ``Interpreter.tensor()`` views of the interpreter's own memory,
fetched fresh each time: LiteRT refuses to invoke (RuntimeError) while such a view
is alive, because invoke/allocate_tensors may move the memory under it. The
interpreter uses its default op resolver, which applies XNNPACK on CPU.

``delegate="/path/libdelegate.so"`` (with ``delegate_options``, strings) hands the
graph to an external TFLite delegate, the way the Android GPU delegate, Hexagon
or Core ML are used on devices; a library that cannot be loaded is refused with
``BackendUnavailable`` naming it, never silently replaced by the CPU.
"""

from __future__ import annotations

import ctypes
import os
import re
from typing import Any

import numpy as np

from gan_edge.artifact import Artifact
from gan_edge.backends import Backend, QuantParams, check_threads
from gan_edge.errors import BackendUnavailable, InputError, ModelFileError

__all__ = ["LiteRTBackend", "litert_message"]

# LiteRT's error reporter appends each message to the one before with nothing between
# ("... of tensor 4 in XNNPACK delegatefailed to create XNNPACK Value for tensor 4Node
# number 3 (TfLiteXNNPackDelegate) failed to prepare."). The seams seen in its messages:
_SEAMS = re.compile(
    r"(?<=in XNNPACK delegate)(?=\S)"  # XNNPACK's own messages end so
    r"|(?<=\S)(?=Node number \d)"  # the interpreter's summary of the node that failed
    r"|(?<=[a-z]{3}\.)(?=[A-Z][a-z])"  # one sentence ending where the next begins
    r"|(?<=[^\s/])(?=(?:tensorflow|tflite|third_party)/[\w/.-]+\.(?:cc|c|h):\d)"  # a kernel's file:line
)


def litert_message(exc: BaseException, *, last_line: bool = False) -> str:
    """LiteRT's text of ``exc``, its run-together messages separated by "; ".

    ``last_line=True`` keeps only the last line: CompiledModel's errors are call traces
    ("ERROR: [file:line]" lines, each "└ "-prefixed) whose last line is the reason.
    """
    lines = [ln.strip("└ ").strip() for ln in str(exc).splitlines() if ln.strip()]
    if not lines:
        return type(exc).__name__
    if last_line:
        lines = lines[-1:]
    readable = []
    for line in lines:
        parts = [p.strip() for p in _SEAMS.split(line) if p.strip()]
        readable.append("; ".join([p.rstrip(".") for p in parts[:-1]] + parts[-1:]))
    return "\n".join(readable)


def _quant(detail: dict) -> QuantParams | None:
    scale, zero_point = detail["quantization"]
    # LiteRT reports (0.0, 0) for tensors that are not quantized.
    return None if scale == 0.0 else QuantParams(float(scale), int(zero_point))


def _shape(detail: dict) -> tuple[int | None, ...]:
    # shape_signature keeps -1 for dynamic dims; `shape` shows the current size.
    signature = detail.get("shape_signature", detail["shape"])
    return tuple(None if d < 0 else int(d) for d in signature)


# The entry point every external delegate exports (TFLite's delegate plugin ABI).
_DELEGATE_SYMBOL = "tflite_plugin_create_delegate"


def load_external_delegate(library: str | os.PathLike, options: dict[str, Any] | None = None):
    """``ai_edge_litert.interpreter.load_delegate``, refusing a bad library by name.

    The library is opened with ctypes first: LiteRT's own failure path leaves a
    half-built Delegate whose ``__del__`` prints a traceback, and its message does
    not say which symbol is missing.
    """
    from ai_edge_litert.interpreter import load_delegate

    if not isinstance(library, (str, os.PathLike)) or not str(library):
        raise InputError(f"delegate must be the path of a shared library, got {library!r}")
    library = str(library)
    if options is not None and (
        not isinstance(options, dict)
        or not all(isinstance(k, str) and isinstance(v, (str, int, float, bool)) for k, v in options.items())
    ):
        raise InputError(f"delegate_options must be a dict of str to str/number, got {options!r}")
    try:
        handle = ctypes.CDLL(library)
    except OSError as exc:
        raise BackendUnavailable(f"cannot load the delegate library {library}: {exc}") from None
    if not hasattr(handle, _DELEGATE_SYMBOL):
        raise BackendUnavailable(
            f"{library} is not a TFLite delegate: it does not export {_DELEGATE_SYMBOL}()"
        )
    try:
        return load_delegate(library, {k: str(v) for k, v in (options or {}).items()})
    except (ValueError, RuntimeError, OSError) as exc:
        raise BackendUnavailable(
            f"the delegate {library} refused to load: {litert_message(exc, last_line=True)}"
        ) from None


class LiteRTBackend(Backend):
    name = "litert"
    format = "tflite"

    def __init__(
        self,
        artifact: Artifact,
        *,
        threads: int | None = None,
        delegate: str | os.PathLike | None = None,
        delegate_options: dict[str, Any] | None = None,
    ) -> None:
        from ai_edge_litert.interpreter import Interpreter

        threads = check_threads(threads)
        if delegate_options is not None and delegate is None:
            raise InputError("delegate_options= needs delegate=/path/to/libdelegate.so")
        # Loaded before the model is read, so a bad library fails fast and by name.
        delegates = [] if delegate is None else [load_external_delegate(delegate, delegate_options)]
        self._path = artifact.path
        # Kept: the interpreter reads its weights from these bytes for its whole life.
        self._model_bytes = artifact.data
        try:
            self._interpreter = Interpreter(
                # None is LiteRT's own default, which is one thread.
                model_content=self._model_bytes,
                num_threads=threads,
                experimental_delegates=delegates or None,
            )
            self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            if delegates:
                raise BackendUnavailable(
                    f"LiteRT cannot run {self._path.name} with the delegate {delegate}: {litert_message(exc)}"
                ) from None
            raise ModelFileError(f"LiteRT cannot load {self._path}: {litert_message(exc)}") from None
        inputs = self._interpreter.get_input_details()
        outputs = self._interpreter.get_output_details()
        if len(inputs) != 1 or len(outputs) != 1:
            raise ModelFileError(
                f"{self._path} has {len(inputs)} inputs and {len(outputs)} outputs: "
                f"expected a generator with 1 input (the latent) and 1 output"
            )
        self._in, self._out = inputs[0], outputs[0]
        self._in_index, self._out_index = self._in["index"], self._out["index"]
        # The batch size the tensors are allocated for; resizing reallocates every
        # tensor, so it happens only when the batch changes.
        self._batch = int(self._in["shape"][0])
        # Functions that return a fresh view on each call: safe to keep forever,
        # unlike the views they return (see the module docstring).
        self._in_view = self._interpreter.tensor(self._in_index)
        self._out_view = self._interpreter.tensor(self._out_index)
        self.invoke = self._interpreter.invoke  # one attribute lookup less per batch

    @property
    def input_shape(self) -> tuple[int | None, ...]:
        return _shape(self._in)

    @property
    def output_shape(self) -> tuple[int | None, ...]:
        return _shape(self._out)

    @property
    def input_dtype(self) -> np.dtype:
        return np.dtype(self._in["dtype"])

    @property
    def output_dtype(self) -> np.dtype:
        return np.dtype(self._out["dtype"])

    @property
    def input_quantization(self) -> QuantParams | None:
        return _quant(self._in)

    @property
    def output_quantization(self) -> QuantParams | None:
        return _quant(self._out)

    def reserve(self, batch: int) -> None:
        if batch == self._batch:
            return
        # strict=True: LiteRT refuses to resize a static dimension, which is the
        # error we want if a caller ignores the model's batch size.
        try:
            self._interpreter.resize_tensor_input(self._in_index, [batch, *self._in["shape"][1:]], strict=True)
            self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise InputError(
                f"{self._path.name} accepts input shape {self.input_shape}, "
                f"got {(batch, *self._in['shape'][1:])}: {litert_message(exc)}"
            ) from None
        self._batch = batch

    def input_buffer(self) -> np.ndarray:
        return self._in_view()

    def invoke(self) -> None:  # replaced per instance by the interpreter's own
        self._interpreter.invoke()

    def output_buffer(self) -> np.ndarray:
        return self._out_view()

    def _release(self) -> None:
        # The interpreter is freed with its last reference; a tensor view a caller
        # still holds keeps its own reference, so its memory stays valid.
        self._interpreter = self._in_view = self._out_view = None

    def run(self, x: np.ndarray) -> np.ndarray:
        if x.ndim != 2 or x.dtype != self.input_dtype:
            raise InputError(
                f"litert input must be a 2-D {self.input_dtype} array, "
                f"got {x.ndim}-D {x.dtype}"
            )
        if x.shape[1:] != tuple(self._in["shape"][1:]):
            raise InputError(
                f"{self._path.name} accepts input shape {self.input_shape}, got {x.shape}"
            )
        self.reserve(x.shape[0])
        self._interpreter.set_tensor(self._in_index, x)
        self._interpreter.invoke()
        return self._interpreter.get_tensor(self._out_index)
