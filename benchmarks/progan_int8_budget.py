"""Where a trained ProGAN's full-int8 generator loses its PSNR: the error budget, layer by layer.

Converts the run's fully grown generator as ``gan-edge export`` does (lowered, pixel norm
and LeakyReLU kept in float32 inside the int8 graph) and measures, on the same latents,
the PSNR against the float generator and the XNNPACK partitions (delegate nodes LiteRT
creates); then the same conversion with one weight layer at a time left in float32 (the
MLIR quantizer's deny list, by the layer's output tensor), and with every activation
range clipped to a percentile of the calibration activations instead of their min/max.
Neither variant is what export writes: they show how much each lever could give.

    python benchmarks/progan_int8_budget.py RUN_DIR [--latents 2000] [--percentiles 99.999,99.995,99.99]

The run must be fully grown (32x32, alpha 1); the latents and the 500 calibration latents
are drawn as export draws them (seed + 2).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from ai_edge_litert import schema_py_generated as schema  # noqa: E402
from ai_edge_litert.interpreter import Interpreter, OpResolverType  # noqa: E402

from gan_edge.export import fidelity, tflite  # noqa: E402
from gan_edge.export.lowering import int8_float_ops, lower_for_edge  # noqa: E402
from gan_edge.export.pipeline import DEFAULT_CALIBRATION_SAMPLES, FIDELITY_SAMPLES  # noqa: E402
from gan_edge.export.source import load_generator  # noqa: E402
from gan_edge.io import quiet_native_stderr  # noqa: E402
from gan_edge.latent import sample_latent  # noqa: E402
from gan_edge.tflite_ops import op_name  # noqa: E402


def run_int8(model_bytes: bytes, latents: np.ndarray) -> np.ndarray:
    interpreter = Interpreter(model_content=model_bytes, num_threads=2)
    index = interpreter.get_input_details()[0]["index"]
    interpreter.resize_tensor_input(index, list(latents.shape))
    interpreter.allocate_tensors()
    scale, zero = interpreter.get_input_details()[0]["quantization"]
    interpreter.set_tensor(index, np.clip(np.round(latents / scale + zero), -128, 127).astype(np.int8))
    interpreter.invoke()
    out = interpreter.get_output_details()[0]
    scale, zero = out["quantization"]
    return (interpreter.get_tensor(out["index"]).astype(np.float32) - zero) * scale


def partitions(model_bytes: bytes) -> int:
    interpreter = Interpreter(model_content=model_bytes, num_threads=1)
    interpreter.allocate_tensors()
    return [op["op_name"] for op in interpreter._get_ops_details()].count("DELEGATE")


def calibrated_model(trained, calibration: np.ndarray) -> bytes:
    """The float model with the converter's calibrated activation ranges (not yet quantized)."""
    converter = tflite._converter(trained, None, lower_for_edge(trained.model))
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = tflite._representative(calibration)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter._experimental_calibrate_only = True
    with quiet_native_stderr():
        return converter.convert()


def quantize(calibrated: bytes, keep_float: tuple[str, ...], nodes: list[str] | None = None) -> bytes:
    from tensorflow.lite.python.convert import mlir_quantize

    with quiet_native_stderr():
        return mlir_quantize(calibrated, input_data_type=tf.int8, output_data_type=tf.int8,
                             denylisted_ops=list(keep_float), denylisted_nodes=nodes)


def weight_layer_outputs(calibrated: bytes) -> list[str]:
    model = schema.ModelT.InitFromPackedBuf(calibrated, 0)
    graph = model.subgraphs[0]
    names = []
    for op in graph.operators:
        code = model.operatorCodes[op.opcodeIndex]
        if op_name(code.builtinCode, code.deprecatedBuiltinCode) in ("CONV_2D", "FULLY_CONNECTED"):
            names.append(graph.tensors[op.outputs[0]].name.decode())
    return names


def clipped(calibrated: bytes, calibration: np.ndarray, percentile: float) -> bytes:
    """``calibrated`` with each activation range set to the [100 - p, p] percentiles of
    that tensor's values on the calibration latents (always containing 0)."""
    interpreter = Interpreter(model_content=calibrated, experimental_preserve_all_tensors=True,
                              experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    index = interpreter.get_input_details()[0]["index"]
    interpreter.resize_tensor_input(index, list(calibration.shape))
    interpreter.allocate_tensors()
    interpreter.set_tensor(index, calibration.astype(np.float32))
    interpreter.invoke()
    model = schema.ModelT.InitFromPackedBuf(calibrated, 0)
    for i, tensor in enumerate(model.subgraphs[0].tensors):
        q = tensor.quantization
        if q is None or q.min is None or len(q.min) != 1:
            continue
        try:
            values = interpreter.get_tensor(i)
        except ValueError:
            continue
        low, high = np.percentile(values, [100 - percentile, percentile])
        q.min, q.max = [float(min(low, 0.0))], [float(max(high, 0.0))]
    import flatbuffers

    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path)
    parser.add_argument("--latents", type=int, default=2000, help=f"latents compared (export: {FIDELITY_SAMPLES:,})")
    parser.add_argument("--percentiles", default="99.999,99.995,99.99")
    args = parser.parse_args()
    percentiles = [float(p) for p in args.percentiles.split(",") if p]
    if args.latents < 2 or not all(50 < p < 100 for p in percentiles):
        parser.error(f"--latents must be 2 or more and percentiles in (50, 100), got {args.latents}, {percentiles}")

    trained = load_generator(args.run)
    lowered = lower_for_edge(trained.model)
    if lowered is trained.model:
        parser.error(f"{args.run} holds a generator that is still growing: train it to 32x32, alpha 1")
    config = trained.config
    rng = np.random.default_rng(config.seed + 2)
    latents = sample_latent(config.latent_distribution, FIDELITY_SAMPLES, config.latent_dim, rng)
    calibration = sample_latent(config.latent_distribution, DEFAULT_CALIBRATION_SAMPLES, config.latent_dim, rng)
    latents = latents[: args.latents]
    reference = trained(latents).numpy()
    keep = int8_float_ops(lowered)
    calibrated = calibrated_model(trained, calibration)

    def row(label: str, model_bytes: bytes, base: float | None = None) -> float:
        psnr = fidelity.compare(run_int8(model_bytes, latents), reference)["psnr_db"]
        gain = "" if base is None else f"{psnr - base:+6.2f}"
        print(f"{label:44s} {psnr:8.2f} {gain:>7s} {partitions(model_bytes):>10d} {len(model_bytes):>10,d}", flush=True)
        return psnr

    print(f"{trained.run.path}: {len(latents):,} latents, float ops in the int8 graph: {', '.join(keep)}")
    print(f"{'int8 artifact':44s} {'PSNR dB':>8s} {'gain':>7s} {'partitions':>10s} {'bytes':>10s}")
    base = row("as export writes it", tflite.to_int8(trained, calibration))
    for name in weight_layer_outputs(calibrated):
        layer = name.split(";")[0].split("/")[1]
        row(f"  with {layer} in float32", quantize(calibrated, keep, [name]), base)
    for p in percentiles:
        row(f"  ranges clipped at the {p}th percentile", quantize(clipped(calibrated, calibration, p), keep), base)
    return 0


if __name__ == "__main__":
    sys.exit(main())
