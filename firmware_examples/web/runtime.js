// One small interface over the two browser runtimes, like gan_edge's backends:
//   const gen = await openGenerator(entry, accelerator);   // entry: one of /api/models
//   const samples = await gen.run(z, n);                    // Float32Array (n, latent_dim) -> (n, ...output_shape)
//   gen.close();
// (agreement.js's openChecked opens through this and decides whether WebGPU is trusted.)
// .tflite runs on LiteRT.js, .onnx on ONNX Runtime Web; accelerator 'webgpu' or 'wasm'.
// A static batch (manifest.batch_size, or the model's own input shape) runs in
// chunks of that size, the last one padded, as gan_edge does on the workstation.

import {Tensor, loadAndCompile, loadLiteRt, supportsFeature} from '@litertjs/core';
import * as ort from 'onnxruntime-web';

let liteRt = null;
async function ensureLiteRt() {
  if (!liteRt) {
    liteRt = (async () => {
      // JSPI lets a model that WebGPU cannot take whole run partly on WebAssembly;
      // without it LiteRT.js moves the whole model to WebAssembly (reported as such).
      const jspi = await supportsFeature('jspi').catch(() => false);
      await loadLiteRt('/vendor/@litertjs/core/wasm/', {jspi});
      return {jspi};
    })();
  }
  return liteRt;
}

ort.env.wasm.wasmPaths = '/vendor/onnxruntime-web/dist/';
// One thread, as the native rows beside the browser's are measured with.
ort.env.wasm.numThreads = 1;

export async function webGpuAdapter() {
  if (!navigator.gpu) return null;
  const adapter = await navigator.gpu.requestAdapter().catch(() => null);
  if (!adapter) return null;
  const info = adapter.info ?? (adapter.requestAdapterInfo ? await adapter.requestAdapterInfo() : {});
  return {
    vendor: info.vendor ?? '', architecture: info.architecture ?? '',
    device: info.device ?? '', description: info.description ?? '',
    isFallbackAdapter: Boolean(adapter.isFallbackAdapter ?? info.isFallbackAdapter),
  };
}

// 'auto': WebGPU when the browser offers an adapter, WebAssembly otherwise.
export async function pickAccelerator(choice) {
  if (choice !== 'auto') return choice;
  return (await webGpuAdapter()) ? 'webgpu' : 'wasm';
}

function checkFloatInput(entry) {
  if (entry.manifest.input_dtype !== 'float32') {
    throw new Error(entry.browser_note ?? `input dtype ${entry.manifest.input_dtype}: the browser runtimes take float32 latents`);
  }
}

export async function openGenerator(entry, accelerator) {
  const open = entry.runtime === 'litertjs' ? openLiteRt : openOrt;
  const start = performance.now();
  const gen = await open(entry, accelerator);
  gen.initUs = (performance.now() - start) * 1e3;  // what a benchmark row reports as init_us
  return gen;
}

async function openLiteRt(entry, accelerator) {
  const {jspi} = await ensureLiteRt();
  // fp32 on WebGPU: the workstation's numbers; fp16 would be faster on phones that have it.
  const model = await loadAndCompile(entry.url, {accelerator, gpuOptions: {precision: 'fp32'}});
  const input = model.getInputDetails()[0];
  if (input.dtype !== 'float32') {
    model.delete();
    checkFloatInput(entry);
  }
  const m = entry.manifest;
  const batch = m.batch_size ?? (input.shape[0] > 0 ? input.shape[0] : 1);
  const per = m.output_shape.reduce((a, b) => a * b, 1);
  const used = model.options.accelerator;  // LiteRT.js may have fallen back to 'wasm'
  return {
    batch, accelerator: used, fullyAccelerated: used === accelerator && model.isFullyAccelerated,
    backend: `litertjs-${used}`, notes: jspi ? 'jspi' : 'no jspi',
    async run(z, n) {
      return chunked(z, n, batch, m.latent_dim, per, async (chunk) => {
        const tensor = new Tensor(chunk, [batch, m.latent_dim]);
        const outputs = await model.run(tensor);
        tensor.delete();
        const host = await outputs[0].moveTo('wasm');
        const values = host.toTypedArray().slice();
        host.delete();
        for (const t of outputs) if (!t.deleted) t.delete();
        return values;
      });
    },
    close() { model.delete(); },
  };
}

async function openOrt(entry, accelerator) {
  checkFloatInput(entry);
  const session = await ort.InferenceSession.create(entry.url, {executionProviders: [accelerator]});
  const m = entry.manifest;
  const per = m.output_shape.reduce((a, b) => a * b, 1);
  const inputName = session.inputNames[0], outputName = session.outputNames[0];
  const staticBatch = m.batch_size;
  return {
    batch: staticBatch ?? null, accelerator, fullyAccelerated: null,
    backend: `ort-web-${accelerator}`, notes: '',
    async run(z, n) {
      const batch = staticBatch ?? n;  // a dynamic batch takes all n at once
      return chunked(z, n, batch, m.latent_dim, per, async (chunk) => {
        const outputs = await session.run({[inputName]: new ort.Tensor('float32', chunk, [batch, m.latent_dim])});
        const values = outputs[outputName].data.slice();
        for (const t of Object.values(outputs)) t.dispose?.();
        return values;
      });
    },
    close() { session.release(); },
  };
}

async function chunked(z, n, batch, dim, per, call) {
  if (batch === n) return call(z);
  const out = new Float32Array(n * per);
  const chunk = new Float32Array(batch * dim);
  for (let start = 0; start < n; start += batch) {
    const rows = Math.min(batch, n - start);
    chunk.fill(0);
    chunk.set(z.subarray(start * dim, (start + rows) * dim));
    const values = await call(chunk);
    out.set(values.subarray(0, rows * per), start * per);
  }
  return out;
}
