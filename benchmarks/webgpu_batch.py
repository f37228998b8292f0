"""Which browser runtime, op and batch gives wrong numbers on WebGPU: one op at a time.

    python benchmarks/webgpu_batch.py [--models fc,conv5,...] [--batches 1,8]
        [--variants float32,int8-float-io,onnx,onnx-int8] [--n 8] [--out DIR]

Builds tiny tf_keras generators (seeded, untrained: only agreement matters), each adding
one op of the DCGAN's lowered chain (FULLY_CONNECTED, RESHAPE, CONV_2D 3x3 and 5x5,
DEPTH_TO_SPACE inside the graph or as its output, the sub-pixel conv, TANH), plus the
DCGAN itself; exports each with export's own artifact writer as float32 and int8-float-io
.tflite and as float and QDQ int8 .onnx, at each static batch; and three hand-written
ONNX graphs that hold nothing but QuantizeLinear/DequantizeLinear (int8, uint8, int8
weights). The page's test mode in headless Chromium then runs every artifact on
WebAssembly and on WebGPU (LiteRT.js for .tflite, ONNX Runtime Web for .onnx) on the same
``--n`` latents; a batch-1 file runs them as n calls, a batch-8 file as one. Each row is
what the runtime returned against ``gan_edge`` (LiteRT / ONNX Runtime on this CPU) on the
latents the page reports: max |difference|, PSNR (peak: the native output's range), the
difference in int8 output steps where the output is dequantized int8, the page's own
verdict (``agrees``: it showed WebGPU's output; ``refused``: it showed WebAssembly's), and
which samples are off. A last check runs the WGSL builtins that ONNX Runtime Web's 8-bit
kernels unpack bytes with alone on the adapter, to tell the adapter's part from the runtime's.
"""

from __future__ import annotations

import argparse
import base64
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
for folder in (ROOT, ROOT / "tests"):  # tests/headless.py drives Chromium (not part of the install)
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

LATENT_DIM = 100  # the DCGAN's, so the first FULLY_CONNECTED has the same shape


def _probe(name: str):
    """(keras model, output shape) of probe ``name``; each adds one op to the one before."""
    import tensorflow as tf
    import tf_keras as keras

    from gan_edge.training.config import default_config
    from gan_edge.training.models import model_family

    layers = keras.layers
    keras.utils.set_random_seed(0)
    if name == "dcgan":
        return model_family("dcgan").build_generator(default_config("dcgan")), (28, 28, 1)
    d2s = lambda: layers.Lambda(lambda x: tf.nn.depth_to_space(x, 2), name="d2s")  # noqa: E731
    stacks = {
        "fc": ([layers.Dense(64)], (64,)),
        "fc_tanh": ([layers.Dense(64, activation="tanh")], (64,)),
        "reshape": ([layers.Dense(7 * 7 * 8), layers.Reshape((7, 7, 8))], (7, 7, 8)),
        "conv3": ([layers.Dense(7 * 7 * 8), layers.Reshape((7, 7, 8)), layers.Conv2D(8, 3, padding="same")],
                  (7, 7, 8)),
        "conv5": ([layers.Dense(7 * 7 * 8), layers.Reshape((7, 7, 8)), layers.Conv2D(8, 5, padding="same")],
                  (7, 7, 8)),
        # no FULLY_CONNECTED before it: the latent itself, 100 = 5 x 5 x 4
        "reshape_d2s": ([layers.Reshape((5, 5, 4)), d2s()], (10, 10, 1)),
        # DEPTH_TO_SPACE inside the graph, not its output
        "reshape_d2s_tanh": ([layers.Reshape((5, 5, 4)), d2s(), layers.Activation("tanh")], (10, 10, 1)),
        "reshape_d2s_conv": ([layers.Reshape((5, 5, 4)), d2s(), layers.Conv2D(2, 1)], (10, 10, 2)),
        "d2s": ([layers.Dense(7 * 7 * 16), layers.Reshape((7, 7, 16)), d2s()], (14, 14, 4)),
        "conv_d2s": ([layers.Dense(7 * 7 * 8), layers.Reshape((7, 7, 8)),
                      layers.Conv2D(16, 3, padding="same", activation="tanh"), d2s()], (14, 14, 4)),
        # the DCGAN's last stage at its sizes: 14x14x64 -> sub-pixel 5x5 conv to 4 channels -> 28x28x1
        "upconv": ([layers.Dense(14 * 14 * 64, activation="tanh"), layers.Reshape((14, 14, 64)),
                    layers.UpSampling2D(2), layers.Conv2D(1, 5, padding="same", activation="tanh")], (28, 28, 1)),
    }
    if name not in stacks:
        raise SystemExit(f"unknown probe {name!r}: expected one of dcgan, {', '.join(stacks)}")
    stack, shape = stacks[name]
    return keras.Sequential([layers.Input((LATENT_DIM,), name="latent"), *stack], name=name), shape


def _onnx_probe(name: str, batch: int) -> bytes | None:
    """Hand-written ONNX graphs around QuantizeLinear / DequantizeLinear alone (None: not one)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    if name not in ("qdq", "qdq_uint8", "dq_weights"):
        return None
    signed = name != "qdq_uint8"
    qtype, zp = (TensorProto.INT8, 0) if signed else (TensorProto.UINT8, 128)
    init = [numpy_helper.from_array(np.array(1 / 127, np.float32), "scale"),
            helper.make_tensor("zero_point", qtype, [], [zp])]
    if name == "dq_weights":  # the latent plus int8 constants -128..127, dequantized on the device
        init.append(helper.make_tensor("w", TensorProto.INT8, [LATENT_DIM], list(np.linspace(-128, 127, LATENT_DIM).astype(int))))
        nodes = [helper.make_node("DequantizeLinear", ["w", "scale", "zero_point"], ["w_float"]),
                 helper.make_node("Add", ["latent", "w_float"], ["out"])]
    else:  # the latent rounded to the 8-bit grid and back
        nodes = [helper.make_node("QuantizeLinear", ["latent", "scale", "zero_point"], ["q"]),
                 helper.make_node("DequantizeLinear", ["q", "scale", "zero_point"], ["out"])]
    graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info("latent", TensorProto.FLOAT, [batch, LATENT_DIM])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, [batch, LATENT_DIM])], init)
    # IR version 8: what tf2onnx writes at opset 17, and what ONNX Runtime Web 1.30 reads
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8).SerializeToString()


PROBES = ("fc", "fc_tanh", "reshape", "conv3", "conv5", "reshape_d2s", "reshape_d2s_tanh", "reshape_d2s_conv", "d2s", "conv_d2s", "upconv", "dcgan", "qdq", "qdq_uint8", "dq_weights")
VARIANTS = ("float32", "int8-float-io", "onnx", "onnx-int8")


def write_probes(out: Path, names, batches, variants=VARIANTS) -> list[str]:
    from gan_edge.export.embed import embed_in_onnx
    from gan_edge.export.pipeline import _manifest, _write_artifact  # exactly what `gan-edge export` writes
    from gan_edge.manifest import write_manifest
    from gan_edge.export.source import TrainedGenerator
    from gan_edge.latent import sample_latent

    files = []
    calibration = sample_latent("uniform11", 64, LATENT_DIM, np.random.default_rng(0))
    for name in names:
        handmade = {batch: _onnx_probe(name, batch) for batch in batches}
        model, shape = (None, (LATENT_DIM,)) if handmade[batches[0]] else _probe(name)
        config = SimpleNamespace(latent_dim=LATENT_DIM, latent_distribution="uniform11", model=name,
                                 to_dict=lambda name=name: {"model": name})
        family = SimpleNamespace(OUTPUT_SHAPE=shape, OUTPUT_RANGE=None)
        trained = TrainedGenerator(model, config, family, SimpleNamespace(path=out), "untrained")
        for batch in batches:
            if handmade[batch]:
                file = f"{name}_onnx_b{batch}.onnx"
                manifest = _manifest(trained, "onnx", file, batch)
                (out / file).write_bytes(embed_in_onnx(handmade[batch], manifest))
                write_manifest(out / file, manifest)
                files.append(file)
                continue
            for variant in variants:
                file = f"{name}_{variant}_b{batch}.{'onnx' if variant.startswith('onnx') else 'tflite'}"
                _write_artifact(trained, variant, batch, out / file, calibration)
                files.append(file)
    return files


# The WGSL builtins ONNX Runtime Web's 8-bit WebGPU kernels unpack int8/uint8 with, run
# alone on the adapter: if they return the bytes they were given, the adapter's part of
# that path is right and the wrong int8 outputs come from the runtime's kernels.
_UNPACK_PAGE = """<!doctype html><script type="module">
const report = {kind: 'done'};
try {
  const device = await (await navigator.gpu.requestAdapter()).requestDevice();
  const bytes = Int8Array.from({length: 256}, (_, i) => i - 128);
  const code = `@group(0) @binding(0) var<storage, read> src: array<u32>;
    @group(0) @binding(1) var<storage, read_write> dst: array<i32>;
    @compute @workgroup_size(64) fn main(@builtin(global_invocation_id) id: vec3<u32>) {
      let i = id.x;
      dst[i] = unpack4xI8(src[i / 4u])[i % 4u];
      dst[i + 256u] = i32(unpack4xU8(src[i / 4u])[i % 4u]);
    }`;
  const buffer = (size, usage) => device.createBuffer({size, usage});
  const src = buffer(256, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST);
  const dst = buffer(2048, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC);
  const read = buffer(2048, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
  device.queue.writeBuffer(src, 0, bytes);
  const pipeline = device.createComputePipeline({layout: 'auto', compute: {module: device.createShaderModule({code}), entryPoint: 'main'}});
  const group = device.createBindGroup({layout: pipeline.getBindGroupLayout(0),
    entries: [src, dst].map((b, binding) => ({binding, resource: {buffer: b}}))});
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.setPipeline(pipeline); pass.setBindGroup(0, group); pass.dispatchWorkgroups(4); pass.end();
  encoder.copyBufferToBuffer(dst, 0, read, 0, 2048);
  device.queue.submit([encoder.finish()]);
  await read.mapAsync(GPUMapMode.READ);
  const got = new Int32Array(read.getMappedRange());
  report.signed_ok = bytes.every((b, i) => got[i] === b);
  report.unsigned_ok = bytes.every((b, i) => got[256 + i] === (b & 255));
} catch (error) { report.error = String(error); }
await fetch('/api/report', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(report)});
</script>"""


def check_unpack_builtins() -> dict:
    """The adapter's unpack4xI8 / unpack4xU8 on all 256 byte values: {signed_ok, unsigned_ok}."""
    import json
    import queue
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from headless import run_page

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            body = _UNPACK_PAGE.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:  # noqa: N802
            self.server.reports.put(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.reports = queue.Queue()
    server.url = f"http://127.0.0.1:{server.server_address[1]}/"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        (report,) = run_page(server, {}, timeout_s=60)
    finally:
        server.shutdown()
        server.server_close()
    return report


def _int8_step(path: Path) -> float | None:
    """The scale of the int8 tensor dequantized into the model's output (None: no such tensor)."""
    if path.suffix == ".onnx":
        return _onnx_int8_step(path)
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interpreter = Interpreter(model_path=str(path),
                              experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    output = interpreter.get_output_details()[0]["index"]
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    for op in interpreter._get_ops_details():
        if op["op_name"] == "DEQUANTIZE" and output in op["outputs"]:
            return float(tensors[op["inputs"][0]]["quantization"][0])
    return None


def _where_wrong(page: np.ndarray, native: np.ndarray, off: np.ndarray) -> str:
    """Which samples are off, and whether each is another sample's right answer."""
    if not len(off):
        return ""
    copies = []
    for k in off:
        match = [j for j in range(len(native)) if np.abs(page[k] - native[j]).max() <= 1e-5]
        copies.append(f"{k}={match[0]}" if match else f"{k}")
    return " ".join(copies)


def _onnx_int8_step(path: Path) -> float | None:
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    producer = {out: node for node in graph.node for out in node.output}
    constants = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant":
            constants[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    name = graph.output[0].name
    # Back from the output through ops that move values without computing new ones.
    while name in producer and producer[name].op_type in ("Reshape", "Transpose", "DepthToSpace", "Identity"):
        name = producer[name].input[0]
    node = producer.get(name)
    if node is None or node.op_type != "DequantizeLinear":
        return None
    return float(np.asarray(constants[node.input[1]]).ravel()[0])


def _psnr(a: np.ndarray, b: np.ndarray, peak: float) -> float:
    mse = float(np.mean((a.astype(np.float64) - b) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(peak**2 / mse)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(PROBES))
    parser.add_argument("--batches", default="1,8")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--out", type=Path, help="keep the artifacts here (default: a temporary folder)")
    args = parser.parse_args()
    names = args.models.split(",")
    batches = [int(b) for b in args.batches.split(",")]

    import gan_edge
    from gan_edge.web import make_server
    from headless import run_page

    with tempfile.TemporaryDirectory(prefix="webgpu-batch-") as tmp:
        out = args.out or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        files = write_probes(out, names, batches, args.variants.split(","))
        server = make_server(out, port=0)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        start = time.monotonic()
        try:
            reports = run_page(server, {"test": 1, "models": ",".join(files), "accelerators": "wasm,webgpu",
                                        "n": args.n, "seed": 3}, timeout_s=1800)
        finally:
            server.shutdown()
            server.server_close()
        seconds = time.monotonic() - start
        done = reports[-1]
        adapter = done.get("adapter") or {}
        import json
        import subprocess

        from headless import find_chromium

        chromium = subprocess.run([find_chromium(), "--version"], capture_output=True, text=True).stdout.strip()
        pinned = json.loads((ROOT / "firmware_examples" / "web" / "package.json").read_text())["dependencies"]
        print(f"browser: {chromium}; {done.get('userAgent')}")
        print(f"page runtimes: {', '.join(f'{k} {v}' for k, v in pinned.items())}")
        print(f"WebGPU adapter: {adapter}")
        unpack = check_unpack_builtins()
        print(f"the adapter's WGSL unpack4xI8 / unpack4xU8 on all 256 bytes: "
              f"{unpack.get('error') or ('right' if unpack['signed_ok'] else 'WRONG') + ' / ' + ('right' if unpack['unsigned_ok'] else 'WRONG')}")
        print(f"{len(files)} artifacts x 2 accelerators, n={args.n} latents each, {seconds:.0f} s in Chromium")
        print("vs gan_edge: the page's output against gan_edge's on the same latents; "
              "int8 steps: max |difference| / the int8 output's scale")
        print(f"{'artifact':40} {'runtime':15} {'batch':>5} {'max|diff|':>10} {'PSNR dB':>8} {'int8 steps':>10} "
              f"{'page':8}wrong samples (k=j: holds sample j's output)")
        for report in reports:
            if report.get("kind") != "result":
                continue
            file = report["model"]
            if "error" in report:
                print(f"{file:40} {report['requested']:15} error: {report['error'][:120]}")
                continue
            generator = gan_edge.load(out / file)
            latents = np.frombuffer(base64.b64decode(report["latents"]), np.float32).reshape(args.n, LATENT_DIM)
            # What the runtime returned on the accelerator asked for, even where the page
            # then showed WebAssembly's output instead (its check against WebAssembly failed).
            raw = report.get("webgpu_outputs", report["outputs"])
            page = np.frombuffer(base64.b64decode(raw), np.float32).reshape(args.n, *generator.output_shape)
            native = generator.generate_from_latent(latents)
            diff = float(np.abs(page - native).max())
            psnr = _psnr(page, native, float(np.ptp(native)) or 1.0)
            step = _int8_step(out / file)
            steps = f"{diff / step:10.2f}" if step else f"{'':10}"
            per_sample = np.abs(page - native).reshape(args.n, -1).max(axis=1)
            off = np.flatnonzero(per_sample > (step or 0) * 1.001 + 1e-5)
            runtime = f"{report['backend'].split('-')[0]}-{report['requested']}"
            verdict = {None: "", True: "agrees", False: "refused"}[(report.get("agreement") or {}).get("agrees")]
            print(f"{file:40} {runtime:15} {report['batch'] or args.n:>5} {diff:10.3g} {psnr:8.1f} {steps} {verdict:8}"
                  f"{_where_wrong(page, native, off)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
