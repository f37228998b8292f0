// Timing statistics with the names and meaning of gan_edge.bench's BenchRow.to_dict(),
// so a browser row and a native row print in one table.

// numpy.percentile's default (linear interpolation between closest ranks).
export function percentile(sorted, q) {
  const pos = (sorted.length - 1) * q / 100;
  const lo = Math.floor(pos), hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export function summarize(us) {
  const sorted = Float64Array.from(us).sort();
  const mean = sorted.reduce((s, v) => s + v, 0) / sorted.length;
  const std = Math.sqrt(sorted.reduce((s, v) => s + (v - mean) ** 2, 0) / sorted.length);
  return {
    runs: sorted.length, mean_us: mean, std_us: std,
    min_us: sorted[0], max_us: sorted[sorted.length - 1],
    p50_us: percentile(sorted, 50), p90_us: percentile(sorted, 90), p99_us: percentile(sorted, 99),
  };
}

export function benchRow({artifact, backend, batch, warmup, initUs, firstUs, timesUs, modelBytes, sourceRun}) {
  const timing = summarize(timesUs);
  return {
    artifact, backend, threads: 1, batch, warmup,
    init_us: initUs, first_us: firstUs, ...timing,
    peak_rss_mb: null,  // a page cannot read its process's memory
    model_bytes: modelBytes, macs_per_sample: null, source_run: sourceRun ?? null,
    vs_tf_function: null,
    us_per_sample: timing.mean_us / batch,
    samples_per_s: batch * 1e6 / timing.mean_us,
    gmac_per_s: null,
  };
}
