// Latents from the manifest's distribution, drawn from a seeded stream.
// The names are gan_edge.latent's: uniform01, uniform11, normal. The stream is
// not numpy's, so seed 3 here is not seed 3 in gan_edge: tests compare on the
// latents the page reports back, not on seeds.

export const DISTRIBUTIONS = {
  uniform01: [0, 1],
  uniform11: [-1, 1],
  normal: null,
};

// mulberry32: small, fast, and the same in every browser.
export function stream(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function sampleLatent(distribution, n, dim, seed) {
  if (!(distribution in DISTRIBUTIONS)) {
    throw new Error(`unknown latent distribution ${JSON.stringify(distribution)}: expected one of ${Object.keys(DISTRIBUTIONS).join(', ')}`);
  }
  const next = stream(seed);
  const z = new Float32Array(n * dim);
  const bounds = DISTRIBUTIONS[distribution];
  if (bounds) {
    const [low, high] = bounds;
    for (let i = 0; i < z.length; i++) z[i] = low + (high - low) * next();
  } else {
    for (let i = 0; i < z.length; i += 2) {  // Box-Muller, two values per pair of draws
      const r = Math.sqrt(-2 * Math.log(1 - next()));
      const theta = 2 * Math.PI * next();
      z[i] = r * Math.cos(theta);
      if (i + 1 < z.length) z[i + 1] = r * Math.sin(theta);
    }
  }
  return z;
}

// A walk through latent space: t in [0, 1] moves each row from `a` to `b`.
// Spherical for the normal distribution (keeps the norm typical), linear for the
// uniform ones (stays inside the box the generator was trained on).
export function interpolate(distribution, a, b, t) {
  const out = new Float32Array(a.length);
  if (distribution !== 'normal') {
    for (let i = 0; i < a.length; i++) out[i] = (1 - t) * a[i] + t * b[i];
    return out;
  }
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) { dot += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
  const omega = Math.acos(Math.min(1, Math.max(-1, dot / Math.sqrt(na * nb))));
  if (omega < 1e-6) return out.fill(0).map((_, i) => a[i]);
  const s = Math.sin(omega);
  const wa = Math.sin((1 - t) * omega) / s, wb = Math.sin(t * omega) / s;
  for (let i = 0; i < a.length; i++) out[i] = wa * a[i] + wb * b[i];
  return out;
}
