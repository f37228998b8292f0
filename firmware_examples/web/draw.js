// Samples onto a canvas, by the manifest's output_shape: (H, W, C) images as a
// grid, 2-D points as a scatter, anything else as one row of grey cells per sample.
// output_range maps values to black..white; without one, the batch's min..max does.

function range(manifest, values) {
  if (manifest.output_range) return manifest.output_range;
  let lo = Infinity, hi = -Infinity;
  for (const v of values) { if (v < lo) lo = v; if (v > hi) hi = v; }
  return hi > lo ? [lo, hi] : [lo - 1, lo + 1];
}

export function draw(canvas, manifest, values, n) {
  const shape = manifest.output_shape;
  if (shape.length === 3) return drawGrid(canvas, manifest, values, n);
  if (shape.length === 1 && shape[0] === 2) return drawScatter(canvas, values, n);
  return drawCells(canvas, manifest, values, n);
}

function drawGrid(canvas, manifest, values, n) {
  const [h, w, c] = manifest.output_shape;
  const cols = Math.ceil(Math.sqrt(n)), rows = Math.ceil(n / cols), pad = 2;
  const image = new ImageData(cols * (w + pad) + pad, rows * (h + pad) + pad);
  image.data.fill(255);
  const [lo, hi] = range(manifest, values);
  const scale = 255 / (hi - lo);
  for (let k = 0; k < n; k++) {
    const x0 = pad + (k % cols) * (w + pad), y0 = pad + Math.floor(k / cols) * (h + pad);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      const src = ((k * h + y) * w + x) * c, dst = ((y0 + y) * image.width + x0 + x) * 4;
      for (let ch = 0; ch < 3; ch++) image.data[dst + ch] = (values[src + (c === 3 ? ch : 0)] - lo) * scale;
    }
  }
  // Drawn small, then scaled up without smoothing: crisp pixels at any size.
  const small = new OffscreenCanvas(image.width, image.height);
  small.getContext('2d').putImageData(image, 0, 0);
  const ctx = canvas.getContext('2d');
  ctx.imageSmoothingEnabled = false;
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  const zoom = Math.max(1, Math.floor(Math.min(canvas.width / image.width, canvas.height / image.height)));
  const left = Math.floor((canvas.width - image.width * zoom) / 2), top = Math.floor((canvas.height - image.height * zoom) / 2);
  ctx.drawImage(small, left, top, image.width * zoom, image.height * zoom);
}

function drawScatter(canvas, values, n) {
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  // Axes fit the points with a margin, and keep the x:y aspect of the data.
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (let k = 0; k < n; k++) {
    const x = values[2 * k], y = values[2 * k + 1];
    x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
  }
  const span = Math.max(x1 - x0, y1 - y0, 1e-6) * 1.2;
  const cx = (x0 + x1) / 2, cy = (y0 + y1) / 2, size = Math.min(canvas.width, canvas.height);
  const px = (x) => canvas.width / 2 + (x - cx) / span * size;
  const py = (y) => canvas.height / 2 - (y - cy) / span * size;
  ctx.fillStyle = 'rgba(31, 119, 180, 0.6)';
  for (let k = 0; k < n; k++) {
    ctx.beginPath();
    ctx.arc(px(values[2 * k]), py(values[2 * k + 1]), n > 200 ? 2 : 4, 0, 2 * Math.PI);
    ctx.fill();
  }
  ctx.fillStyle = '#333';
  ctx.font = '12px sans-serif';
  ctx.fillText(`x ${(cx - span / 2).toFixed(2)} .. ${(cx + span / 2).toFixed(2)}, y ${(cy - span / 2).toFixed(2)} .. ${(cy + span / 2).toFixed(2)}`, 8, canvas.height - 8);
}

function drawCells(canvas, manifest, values, n) {
  const per = values.length / n, ctx = canvas.getContext('2d');
  const [lo, hi] = range(manifest, values);
  const cw = canvas.width / per, ch = Math.min(24, canvas.height / n);
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  for (let k = 0; k < n; k++) for (let i = 0; i < per; i++) {
    const g = Math.round((values[k * per + i] - lo) / (hi - lo) * 255);
    ctx.fillStyle = `rgb(${g},${g},${g})`;
    ctx.fillRect(i * cw, k * ch, cw, ch);
  }
}
