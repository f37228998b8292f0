"""A full-int8 TFLite generator as a self-contained C99 module, for microcontrollers.

``export_c_module(int8_tflite_path, out_dir)`` writes ``gan_generator.h`` and
``gan_generator.c``: the weights, biases, requantization parameters and activation
tables as ``const`` arrays (flash), and ``gan_generate(latent, out)``, which runs the
model with integer arithmetic only and no heap. It reproduces TFLite Micro's reference
kernels bit for bit (``tests/test_c_module.py`` checks it, the toy GAN and the DCGAN):

- the effective scale of each layer becomes a 32-bit multiplier and a shift exactly
  as TFLite's ``QuantizeMultiplier`` makes them (frexp, round half away from zero),
  from the same float/double expressions TFLM evaluates in ``Prepare``;
- ``MultiplyByQuantizedMultiplier`` is gemmlowp's double rounding
  (``SaturatingRoundingDoublingHighMul`` then ``RoundingDivideByPOT``), TFLM's
  default (it is built without ``TFLITE_SINGLE_ROUNDING``);
- TANH and LOGISTIC are tables of TFLM's gemmlowp fixed-point results (export/gemmlowp.py).

The ops are in export/c_ops.py: FULLY_CONNECTED, CONV_2D, LEAKY_RELU, TANH, LOGISTIC,
DEPTH_TO_SPACE and RESHAPE, in a plain chain. A model with any other op is refused with
the op and its position named; it belongs to TFLite Micro. Activations live in one arena
of the size of the largest pair of live tensors: each op reads one end and writes the
other, and the elementwise ops work in place. Small arenas sit on gan_generate's stack
(reentrant); larger ones (the DCGAN's) are a static array, as a 1 KiB MCU stack cannot
hold them. Needs only ai-edge-litert's flatbuffer schema and numpy: no TensorFlow.
"""

from __future__ import annotations

import hashlib
import os
from string import Template
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gan_edge.export.c_graph import plan_arena, read_chain
from gan_edge.export.c_ops import (DOT, DOTTING, FAST_HELPERS, KERNELS, REQUANTIZE_HELPERS, REQUANTIZING,
                                   SUPPORTED_OPS, UnsupportedModelError, _Layer, _per_tensor, _round_half_away,
                                   _Tensor, _f32, quantize_multiplier)
from gan_edge.artifact import open_artifact
from gan_edge.errors import GanEdgeError, RunFolderError
from gan_edge.manifest import Manifest

__all__ = ["UnsupportedModelError", "BudgetError", "CModule", "FILES", "SUPPORTED_OPS", "export_c_module",
           "quantize_multiplier", "check_target"]

FILES = ("gan_generator.h", "gan_generator.c")
# The C around the generated arrays and calls: gan_generator.{h,c}.in and the samplers.
_TEMPLATES = Path(__file__).with_name("c_templates")
# Arenas up to this size go on gan_generate's stack; larger ones are static.
STACK_ARENA_MAX = 512


class BudgetError(GanEdgeError):
    """The module would not fit the flash or RAM budget it was given."""


@dataclass(frozen=True)
class CModule:
    """What ``export_c_module`` wrote, and the footprint it computed."""

    header: Path
    source: Path
    flash_bytes: int  # const data: weights + biases + multipliers + shifts + tables
    weight_bytes: int  # int8 weights alone
    stack_buffer_bytes: int  # the activation arena when on gan_generate's stack, else 0
    largest_activation: int  # elements of the largest intermediate tensor
    layers: tuple[str, ...] = field(default_factory=tuple)
    static_buffer_bytes: int = 0  # the activation arena when static, else 0
    largest_pair_bytes: int = 0  # the largest pair of tensors live at once (the arena, less any scratch)
    macs: int = 0  # multiply-accumulates per gan_generate
    kernels: tuple[str, ...] = field(default_factory=tuple)  # per layer: its kernel ("" for no choice)

    @property
    def portable_notes(self) -> tuple[str, ...]:
        """One line per weighted layer the fast kernels do not cover (it runs the portable one)."""
        return tuple(f"op {i} ({layer.split(' ')[0]}): {note}" for i, (layer, note) in
                     enumerate(zip(self.layers, self.kernels)) if ", portable:" in note)

    @property
    def buffer_bytes(self) -> int:
        return self.stack_buffer_bytes + self.static_buffer_bytes


def _c_array(ctype: str, name: str, values: np.ndarray, per_line: int = 16) -> str:
    items = [str(int(v)) for v in values]
    rows = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    body = ",\n    ".join(rows)
    return f"static const {ctype} {name}[{len(items)}] = {{\n    {body}\n}};\n"


def _c_float(x: float) -> str:
    return f"{float(_f32(x)):.9g}f"




def _sampler(manifest: Manifest, in_scale: float, in_zp: int) -> tuple[str, str]:
    """C for gan_sample_latent: (header doc, body). Integer only."""
    from gan_edge.latent import DISTRIBUTIONS

    bounds = DISTRIBUTIONS[manifest.latent_distribution]
    if bounds is not None:
        low, high = bounds
        q_lo = max(-128, in_zp + _round_half_away(low / in_scale))
        q_hi = min(127, in_zp + _round_half_away(high / in_scale))
        doc = (f"uniform over the int8 codes {q_lo}..{q_hi}, i.e. {manifest.latent_distribution} "
               f"[{low:g}, {high:g}] at the input scale")
        return doc, _template("sample_uniform.c.in", distribution=manifest.latent_distribution, q_lo=q_lo,
                              q_hi=q_hi, low=f"{low:g}", high=f"{high:g}", codes=q_hi - q_lo + 1)
    # normal: Irwin-Hall, the sum of 12 16-bit uniforms minus their mean has std 65536;
    # q = zp + round(z / scale) = zp + round(s * 2**16 / scale / 2**32).
    doc = "approximately N(0, 1) (Irwin-Hall: the sum of 12 uniforms), clamped to int8"
    return doc, _template("sample_normal.c.in", mult=_round_half_away(65536.0 / in_scale), zero_point=in_zp)


def _template(name: str, **values) -> str:
    """export/c_templates/NAME with its ${...} filled in; a name left unfilled is an error."""
    return Template((_TEMPLATES / name).read_text(encoding="utf-8")).substitute(values)


def _render(layers: list[_Layer], x: _Tensor, y: _Tensor, manifest: Manifest, source_name: str,
            sha256: str) -> tuple[str, str, CModule]:
    in_scale, in_zp = _per_tensor(x, "model input")
    out_scale, out_zp = _per_tensor(y, "model output")
    latent_dim = int(np.prod(x.shape))
    out_size = int(np.prod(y.shape))

    steps, arena = plan_arena(layers)
    static = arena > STACK_ARENA_MAX

    def place(where: str, size: int) -> str:
        return {"latent": "latent", "out": "out", "low": "gan_arena",
                "high": f"gan_arena + {arena - size}"}[where]

    calls, kinds = [], []
    for i, (layer, (src, src_size, dst, dst_size, scratch)) in enumerate(zip(layers, steps)):
        kind = layer.kind
        buffers = [place(src, src_size), place(dst, dst_size)]
        if kind == "reshape":
            if dst == src:
                calls.append(f"    /* op {i}: RESHAPE, no code */\n    GAN_OP_DONE({i});")
                continue
            kind = "copy"
            args = [str(layer.in_size)]
        else:
            args = [f"gan_l{i}_{name}" for name in layer.arrays] + [str(v) for v in layer.scalars.values()]
        if layer.fast:  # it calls the portable kernel on a core without DSP or Helium
            kinds.append(kind)
            kind = f"{kind}_fast"
            buffers.append(f"gan_arena + {scratch}" if scratch is not None else "gan_arena")
        kinds.append(kind)
        call = f"    gan_{kind}(" + ", ".join(buffers + args) + ");"
        calls.append((call if len(call) < 110 else call.replace(", gan_l", ",\n        gan_l", 1))
                     + f"\n    GAN_OP_DONE({i});")
    used = [k for k in KERNELS if k in kinds]  # only the kernels this model calls: -Werror
    kernels = (REQUANTIZE_HELPERS if any(k in REQUANTIZING for k in used) else "") + (
        DOT if any(k in DOTTING for k in used) else "") + (
        FAST_HELPERS if any(k.endswith("_fast") for k in used) else "") + "".join(KERNELS[k] for k in used)
    notes = tuple(_kernel_note(layer) for layer in layers)

    weight_bytes = sum(l.arrays["weights"][1].size for l in layers if "weights" in l.arrays)
    sizes = {"int8_t": 1, "int32_t": 4}
    flash = sum(sizes[c] * a.size for l in layers for c, a in l.arrays.values())
    largest = max([l.out_size for l in layers[:-1]], default=0)
    macs = sum(l.macs for l in layers)
    if static:
        arena_doc = (f"RAM:   {arena} bytes of static activation arena (gan_arena, .bss: the largest pair of\n"
                     f" *          live tensors; largest tensor {largest} int8 values), so gan_generate is not\n"
                     f" *          reentrant; its stack is a few words of locals per call")
    else:
        arena_doc = (f"stack: {arena} bytes of activation buffers in gan_generate (largest intermediate\n"
                     f" *          tensor: {largest} int8 values), plus a few words of locals per call")

    shape = tuple(int(d) for d in manifest.output_shape)
    image_defines = ""
    if len(shape) == 3 and int(np.prod(shape)) == out_size:  # an image: row-major height x width x channels
        image_defines = (f"#define GAN_OUTPUT_HEIGHT {shape[0]}\n#define GAN_OUTPUT_WIDTH {shape[1]}\n"
                         f"#define GAN_OUTPUT_CHANNELS {shape[2]}\n")
    sampler_doc, sampler_body = _sampler(manifest, in_scale, in_zp)
    layer_lines = "\n".join(f" *   {i}: {l.comment}" + (f"\n *      kernel: {note}" if note else "")
                            for i, (l, note) in enumerate(zip(layers, notes)))
    pair = max([(s_size if s in ("low", "high") and d != s else 0) + (d_size if d in ("low", "high") else 0)
                for s, s_size, d, d_size, _ in steps], default=0)
    header = _template(
        "gan_generator.h.in", source_name=source_name, sha256=sha256, latent_dim=latent_dim,
        latent_distribution=manifest.latent_distribution, out_size=out_size,
        output_shape=tuple(manifest.output_shape), layer_lines=layer_lines, flash=flash, op_count=len(layers),
        weight_bytes=weight_bytes, arena_doc=arena_doc,
        static_ram_doc="static RAM: the arena above" if static else "static RAM: none", macs=macs,
        stack_buffer_bytes=0 if static else arena, static_buffer_bytes=arena if static else 0,
        image_defines=image_defines, input_scale=_c_float(in_scale), input_zero_point=in_zp,
        output_scale=_c_float(out_scale), output_zero_point=out_zp,
        reentrancy="not reentrant (static arena)" if static else "reentrant", sampler_doc=sampler_doc)
    arrays = []
    for i, layer in enumerate(layers):
        if not layer.arrays:
            continue
        arrays.append(f"/* layer {i}: {layer.comment} */\n")
        for name, (ctype, values) in layer.arrays.items():
            arrays.append(_c_array(ctype, f"gan_l{i}_{name}", values))
        arrays.append("\n")
    arena_decl = (f"static int8_t gan_arena[{arena}] GAN_ALIGNED; /* the largest pair of live tensors"
                  f"{' and a fast kernel' + chr(39) + 's scratch' if arena > pair else ''} */\n"
                  if static and arena else "")
    local_arena = f"    int8_t gan_arena[{arena}] GAN_ALIGNED;\n" if arena and not static else ""
    source = _template(
        "gan_generator.c.in", source_name=source_name, arrays="".join(arrays), arena_decl=arena_decl,
        kernels=kernels, local_arena=local_arena, calls="\n".join(calls), sampler_body=sampler_body)
    info = CModule(Path(), Path(), flash, weight_bytes, 0 if static else arena, largest,
                   tuple(l.comment for l in layers), static_buffer_bytes=arena if static else 0,
                   largest_pair_bytes=pair, macs=macs, kernels=notes)
    return header, source, info


def _kernel_note(layer: _Layer) -> str:
    """Which kernel a weighted layer runs, and why the portable one when it does."""
    if layer.fast:
        return (f"gan_{layer.kind}_fast (DSP extension or Helium, chosen at compile time; "
                f"gan_{layer.kind} elsewhere)")
    if layer.portable_reason:
        return f"gan_{layer.kind}, portable: the fast kernel does not cover it ({layer.portable_reason})"
    return ""


def _check_budgets(info: CModule, flash_kib: float | None, ram_kib: float | None, name: str) -> None:
    over = []
    if flash_kib is not None and info.flash_bytes > flash_kib * 1024:
        over.append(f"const data {info.flash_bytes:,} bytes ({info.flash_bytes / 1024:.1f} KiB) > --flash-kib "
                    f"{flash_kib:g}")
    if ram_kib is not None and info.buffer_bytes > ram_kib * 1024:
        over.append(f"activation buffers {info.buffer_bytes:,} bytes ({info.buffer_bytes / 1024:.1f} KiB) > "
                    f"--ram-kib {ram_kib:g}")
    if over:
        raise BudgetError(f"{name}: the C module would not fit: {'; '.join(over)} (int8 weights "
                          f"{info.weight_bytes:,} bytes; nothing was written): raise the budget or train a "
                          f"smaller generator (e.g. `gan-edge train dcgan --preset mcu`)")


def export_c_module(int8_tflite_path: str | os.PathLike, out_dir: str | os.PathLike, *,
                    overwrite: bool = False, flash_kib: float | None = None,
                    ram_kib: float | None = None) -> CModule:
    """Write ``gan_generator.h`` and ``gan_generator.c`` for the full-int8 model into ``out_dir``.

    The model's manifest (the sidecar, else the embedded copy) gives the latent
    distribution. ``flash_kib`` / ``ram_kib``: optional budgets for the const data and
    the activation buffers. Raises ``UnsupportedModelError`` for ops or types the
    generator does not handle, ``BudgetError`` for a module over budget (both before
    anything is written), and ``RunFolderError`` if the files exist and ``overwrite`` is False.
    """
    for name, value in (("flash_kib", flash_kib), ("ram_kib", ram_kib)):
        if value is not None and not value > 0:
            raise GanEdgeError(f"{name} must be a positive number of KiB, got {value!r}")
    path = Path(int8_tflite_path)
    out_dir = Path(out_dir)
    check_target(out_dir, overwrite=overwrite)
    artifact = open_artifact(path)  # the model checked, and its manifest, as gan_edge.load does
    model_bytes, manifest = artifact.data, artifact.manifest
    layers, x, y = read_chain(model_bytes)
    if int(np.prod(x.shape)) != manifest.latent_dim:
        raise UnsupportedModelError(f"{path.name}: the model takes {x.shape} but its manifest says "
                                    f"latent_dim {manifest.latent_dim}")
    header, source, info = _render(layers, x, y, manifest, path.name, hashlib.sha256(model_bytes).hexdigest())
    _check_budgets(info, flash_kib, ram_kib, path.name)
    out_dir.mkdir(parents=True, exist_ok=True)
    h_path, c_path = out_dir / FILES[0], out_dir / FILES[1]
    h_path.write_text(header, encoding="utf-8")
    c_path.write_text(source, encoding="utf-8")
    return CModule(h_path, c_path, info.flash_bytes, info.weight_bytes, info.stack_buffer_bytes,
                   info.largest_activation, info.layers, info.static_buffer_bytes, info.largest_pair_bytes,
                   info.macs, info.kernels)


def check_target(out_dir: str | os.PathLike, *, overwrite: bool = False) -> None:
    """Refuse an ``out_dir`` that already holds a generated module (before any work starts)."""
    if overwrite:
        return
    for name in FILES:
        existing = Path(out_dir) / name
        if existing.exists():
            raise RunFolderError(f"{existing} already exists: pass a new --out folder (nothing was overwritten)")
