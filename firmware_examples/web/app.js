// The page: pick a generator and an accelerator, draw samples, walk the latent
// space, time the calls. With ?test=1 it runs a fixed suite instead and posts the
// results (latents, outputs, timings, errors) to the server: see README.md.

import {openChecked} from './agreement.js';
import {draw} from './draw.js';
import {interpolate, sampleLatent} from './latent.js';
import {pickAccelerator, webGpuAdapter} from './runtime.js';
import {benchRow} from './stats.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const state = {entries: [], entry: null, gen: null, z0: null, z1: null, busy: false, again: false};

async function post(report) {
  const response = await fetch('/api/report', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(report)});
  if (!response.ok) {
    const reason = await response.json().then((r) => r.error).catch(() => `${response.status} ${response.statusText}`);
    throw new Error(`the server refused the ${report.kind} report: ${reason}`);
  }
}

// A result too large to send whole (its latents and outputs) still arrives: without them,
// the server's reason in its error, so a reader is never left waiting for a row that was dropped.
async function postResult(result) {
  await post(result).catch(async (error) => {
    const {latents, outputs, webgpu_outputs, ...row} = result;
    await post({...row, error: [result.error, error.message].filter(Boolean).join('; ')});
  });
}

function b64(floats) {
  const bytes = new Uint8Array(floats.buffer, floats.byteOffset, floats.byteLength);
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

function label(entry) {
  const m = entry.manifest;
  return `${entry.file} (${m.variant}, ${m.source?.model ?? '?'}, batch ${m.batch_size ?? 'dynamic'})`;
}

function showError(entry, error) {
  const message = error?.message ?? String(error);
  // The runtime's own words first; the manifest's explanation after, when there is one.
  const note = entry?.browser_note && !message.includes(entry.browser_note) ? `\n${entry.browser_note}` : '';
  $('error').textContent = `${message}${note}`;
  const ctx = $('canvas').getContext('2d');
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, $('canvas').width, $('canvas').height);
  ctx.fillStyle = '#b00020';
  ctx.font = '14px sans-serif';
  ctx.fillText(`${entry?.file ?? 'model'}: ${message}`.slice(0, 90), 10, 24);
}

function showCheck(check) {
  $('check').textContent = check?.line ?? '';
  $('check').className = check && !check.agrees ? 'warning' : 'muted';
}

async function bench(gen, entry, {runs = 100, warmup = 10} = {}) {
  // A dynamic batch (ONNX) is timed at ?batch= (default 8), to sit beside the static ones.
  const batch = gen.batch ?? Number(params.get('batch') ?? 8);
  const z = sampleLatent(entry.manifest.latent_distribution, batch, entry.manifest.latent_dim, 1);
  let start = performance.now();
  await gen.run(z, batch);
  const firstUs = (performance.now() - start) * 1e3;
  for (let i = 0; i < warmup; i++) await gen.run(z, batch);
  const times = new Float64Array(runs);
  for (let i = 0; i < runs; i++) {
    start = performance.now();
    await gen.run(z, batch);
    times[i] = (performance.now() - start) * 1e3;
  }
  return benchRow({
    artifact: entry.file, backend: gen.backend, batch, warmup, initUs: gen.initUs, firstUs, timesUs: times,
    modelBytes: entry.size, sourceRun: entry.manifest.source?.run,
  });
}

function addBenchRow(row) {
  const cells = [row.artifact, row.backend, row.batch, (row.init_us / 1e3).toFixed(1), row.first_us.toFixed(0),
    row.p50_us.toFixed(1), row.p90_us.toFixed(1), row.p99_us.toFixed(1), Math.round(row.samples_per_s).toLocaleString()];
  const tr = document.createElement('tr');
  for (const c of cells) tr.appendChild(Object.assign(document.createElement('td'), {textContent: c}));
  $('bench-table').tBodies[0].appendChild(tr);
  $('bench-table').hidden = false;
}

// --- interactive ---------------------------------------------------------------

async function openSelected() {
  state.gen?.close();
  state.gen = null;
  const entry = state.entry = state.entries[$('model').selectedIndex];
  $('model-name').textContent = entry.file;
  $('error').textContent = '';
  $('latency').textContent = '';
  showCheck(null);
  const choice = $('accelerator').value;
  try {
    const accelerator = await pickAccelerator(choice);
    $('status').textContent = `loading on ${accelerator}...`;
    // The check draws one call's worth of its own latents, so it costs one call per accelerator.
    const m = entry.manifest, rows = m.batch_size ?? 8;
    const {gen, check} = await openChecked(entry, accelerator, sampleLatent(m.latent_distribution, rows, m.latent_dim, 0), rows);
    state.gen = gen;
    showCheck(check);
    const fell = gen.accelerator !== accelerator && !check ? ` (${accelerator} refused the model: fell back)` : '';
    $('status').textContent = `${state.gen.backend}${fell}, batch ${state.gen.batch ?? 'dynamic'}, latent ${entry.manifest.latent_distribution}^${entry.manifest.latent_dim}`;
    newEndpoints();
    await render();
  } catch (error) {
    $('status').textContent = '';
    showError(entry, error);
  }
}

function newEndpoints() {
  const m = state.entry.manifest, n = Number($('n').value), seed = Number($('seed').value);
  state.z0 = sampleLatent(m.latent_distribution, n, m.latent_dim, 2 * seed);
  state.z1 = sampleLatent(m.latent_distribution, n, m.latent_dim, 2 * seed + 1);
}

async function render() {
  if (!state.gen) return;
  if (state.busy) { state.again = true; return; }  // coalesce slider moves
  state.busy = true;
  try {
    const m = state.entry.manifest, n = Number($('n').value);
    const z = interpolate(m.latent_distribution, state.z0, state.z1, Number($('walk').value) / 1000);
    const start = performance.now();
    const samples = await state.gen.run(z, n);
    const ms = performance.now() - start;
    const calls = state.gen.batch ? Math.ceil(n / state.gen.batch) : 1;
    $('latency').textContent = `${n} samples in ${ms.toFixed(2)} ms: ${calls} call(s), ${(ms / calls).toFixed(3)} ms per call`;
    draw($('canvas'), m, samples, n);
  } catch (error) {
    showError(state.entry, error);
  } finally {
    state.busy = false;
  }
  if (state.again) { state.again = false; await render(); }
}

async function interactive() {
  $('model').onchange = openSelected;
  $('accelerator').onchange = openSelected;
  $('walk').oninput = render;
  $('n').onchange = $('seed').onchange = () => { if (state.gen) { newEndpoints(); render(); } };
  $('new-endpoints').onclick = () => { $('seed').value = Number($('seed').value) + 1; newEndpoints(); render(); };
  $('bench').onclick = async () => {
    if (!state.gen) return;
    $('bench').disabled = true;
    try {
      const row = await bench(state.gen, state.entry);
      addBenchRow(row);
      await post({kind: 'bench', row, userAgent: navigator.userAgent, adapter: await webGpuAdapter()}).catch(() => {});
    } catch (error) {
      showError(state.entry, error);
    } finally {
      $('bench').disabled = false;
    }
  };
  await openSelected();
  if (params.has('notify')) {
    await post({kind: 'ready', model: state.entry.file, error: $('error').textContent || null,
                backend: state.gen?.backend ?? null, check: $('check').textContent || null});
  }
}

// --- test mode: ?test=1&models=a,b&accelerators=wasm,webgpu&n=12&seed=7[&bench=RUNS,WARMUP&batch=B] ---
// A WebGPU result carries `agreement` (the check against WebAssembly on its latents) and
// `webgpu_outputs` (what WebGPU returned, whether or not it was shown).

async function testSuite() {
  const models = (params.get('models') ?? '').split(',').filter(Boolean);
  const accelerators = (params.get('accelerators') ?? 'wasm').split(',');
  const n = Number(params.get('n') ?? 12), seed = Number(params.get('seed') ?? 0);
  const benchArg = params.get('bench');
  const [runs, warmup] = benchArg ? benchArg.split(',').map(Number) : [0, 0];
  for (const file of models) {
    for (const requested of accelerators) {
      const entry = state.entries.find((e) => e.file === file);
      const result = {kind: 'result', model: file, requested, n, seed};
      let gen = null;
      try {
        if (!entry) throw new Error(`no model ${file} on this server`);
        const m = entry.manifest;
        const z = sampleLatent(m.latent_distribution, n, m.latent_dim, seed);
        const opened = await openChecked(entry, requested, z, n);
        gen = opened.gen;
        const {outputs: out, check} = opened;
        Object.assign(result, {accelerator: gen.accelerator, backend: gen.backend, fully_accelerated: gen.fullyAccelerated, batch: gen.batch});
        result.latents = b64(z);
        result.outputs = b64(out);
        if (check) {
          const {webgpu, ...agreement} = check;
          result.agreement = agreement;
          result.webgpu_outputs = b64(webgpu);
        }
        showCheck(check);
        draw($('canvas'), m, out, n);
        if (runs) result.bench = await bench(gen, entry, {runs, warmup});
      } catch (error) {
        result.error = error?.message ?? String(error);
        showError(entry, error);
      } finally {
        gen?.close();
      }
      await postResult(result);
    }
  }
  await post({kind: 'done', userAgent: navigator.userAgent, adapter: await webGpuAdapter(),
              crossOriginIsolated: self.crossOriginIsolated});
}

async function main() {
  const catalog = await (await fetch('/api/models')).json();
  state.entries = catalog.models;
  for (const entry of state.entries) $('model').add(new Option(label(entry), entry.file));
  const wanted = params.get('model');
  // Default: the first generator a browser can feed (float32 latents).
  const first = state.entries.findIndex((e) => (wanted ? e.file === wanted : !e.browser_note));
  $('model').selectedIndex = Math.max(0, first);
  if (params.get('accelerator')) $('accelerator').value = params.get('accelerator');
  const adapter = await webGpuAdapter();
  $('adapter').textContent = adapter
    ? `WebGPU adapter: ${[adapter.vendor, adapter.architecture, adapter.device, adapter.description].filter(Boolean).join(' / ') || 'unnamed'}${adapter.isFallbackAdapter ? ' (software fallback)' : ''}`
    : `no WebGPU adapter${window.isSecureContext ? '' : ' (WebGPU needs a secure origin: https or localhost)'}: WebAssembly only`;
  if (params.has('test')) await testSuite();
  else await interactive();
}

main().catch(async (error) => {
  showError(state.entry, error);
  if (params.has('test') || params.has('notify')) await post({kind: 'done', error: error?.message ?? String(error)}).catch(() => {});
});
