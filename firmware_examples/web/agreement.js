// WebGPU is trusted only where it agrees with WebAssembly on the same latents.
//   const {gen, outputs, check} = await openChecked(entry, accelerator, z, n);
// A browser's WebGPU path can be silently wrong: measured here (benchmarks/webgpu_batch.py,
// docs/firmware.md), LiteRT.js returns zeros from DEPTH_TO_SPACE at a batch above 1 and
// ONNX Runtime Web's 8-bit QuantizeLinear/DequantizeLinear returns garbage. So a model
// opened on WebGPU first runs the latents it is about to draw on WebAssembly too, and
// when the two disagree the page shows WebAssembly's output and says why in one line.

import {openGenerator} from './runtime.js';

// Float paths agree to a few float32 roundings (1.1e-6 measured on the DCGAN); this
// leaves two orders of magnitude and still catches any visible error.
const FLOAT_RELATIVE = 1e-4;

// The causes measured so far, to name in the warning with the fix; the check itself
// does not depend on them, so an unknown fault is caught as well.
const KNOWN_WRONG = [
  {
    when: ({entry, gen, webgpu}) => entry.runtime === 'litertjs' && gen.batch > 1 && webgpu.every((v) => v === 0),
    why: 'LiteRT.js zeroes DEPTH_TO_SPACE on WebGPU at batch > 1: export --batch 1 for WebGPU.',
  },
  {
    when: ({entry}) => entry.runtime === 'ort-web' && quantized(entry.manifest),
    why: "ONNX Runtime Web's WebGPU int8 QuantizeLinear/DequantizeLinear is wrong: use the int8-float-io .tflite.",
  },
];

// int8 inside (int8-float-io, onnx-int8, qat): the output is dequantized int8, so two
// correct runtimes may differ by one step where they round a value differently.
function quantized(manifest) {
  return /int8|qat/.test(manifest.variant);
}

// The spacing of the grid a dequantized output lies on: the smallest gap between two
// distinct values. It is the int8 step when the outputs cover the grid densely, and a
// few steps when they are few (the toy's 2-D points); never less than one step.
export function gridStep(values) {
  const sorted = Float32Array.from(values).sort();
  let step = Infinity;
  for (let i = 1; i < sorted.length; i++) {
    const gap = sorted[i] - sorted[i - 1];
    if (gap > 0 && gap < step) step = gap;
  }
  return step;
}

// The largest |WebGPU - WebAssembly| that still counts as the same output, and its rule.
export function allowedDifference(manifest, reference) {
  let peak = 0;
  for (const v of reference) peak = Math.max(peak, Math.abs(v));
  const floatAllowed = FLOAT_RELATIVE * Math.max(1, peak);
  if (quantized(manifest)) {
    const step = gridStep(reference);
    if (Number.isFinite(step)) return {allowed: step * 1.001 + floatAllowed, rule: 'one int8 step'};
  }
  return {allowed: floatAllowed, rule: 'float'};
}

export function maxAbsDifference(a, b) {
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= worst)) worst = d;  // NaN counts as the worst
  }
  return worst;
}

// Opens `entry` on `accelerator` and runs z (n rows). On WebGPU, also on WebAssembly:
// keeps WebGPU when the outputs agree, else WebAssembly. `check` is null when no
// comparison ran (WebAssembly asked for, or the runtime itself fell back to it).
export async function openChecked(entry, accelerator, z, n) {
  const gen = await openGenerator(entry, accelerator);
  let reference = null;
  try {
    const webgpu = await gen.run(z, n);
    if (gen.accelerator !== 'webgpu') return {gen, outputs: webgpu, check: null};
    reference = await openGenerator(entry, 'wasm');
    const wasm = await reference.run(z, n);
    const check = compare(entry, gen, webgpu, wasm, n);
    if (check.agrees) return {gen, outputs: webgpu, check};
    const trusted = reference;
    reference = null;
    gen.close();
    return {gen: trusted, outputs: wasm, check};
  } catch (error) {
    gen.close();
    throw error;
  } finally {
    reference?.close();
  }
}

function compare(entry, gen, webgpu, wasm, n) {
  const {allowed, rule} = allowedDifference(entry.manifest, wasm);
  const diff = maxAbsDifference(webgpu, wasm);
  const agrees = diff <= allowed;
  const numbers = `max |difference| ${diff.toPrecision(2)} on ${n} samples, allowed ${allowed.toPrecision(2)}`;
  const known = agrees ? null : KNOWN_WRONG.find((k) => k.when({entry, gen, webgpu}));
  const line = agrees
    ? `WebGPU checked against WebAssembly: ${numbers}`
    : `WebGPU output is wrong here (${numbers} from WebAssembly): showing WebAssembly's. ${known?.why ?? 'Cause unknown: please report this line.'}`;
  return {agrees, max_abs_diff: diff, allowed, rule, line, webgpu};
}
