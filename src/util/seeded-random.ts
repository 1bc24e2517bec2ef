/**
 * Runs `f` with `Math.random` replaced by a generator seeded with `seed` (mulberry32), and puts the original
 * back after, whatever `f` does. tfjs draws the noise of Dropout, SpatialDropout, GaussianNoise,
 * GaussianDropout and AlphaDropout from `Math.random` when the layer has no seed of its own (one draw seeds
 * each random tensor), so a training step run inside this is repeatable: the same seed, the same masks.
 * Synchronous only: nothing else can run while `f` holds the replacement.
 */
export function withSeededRandom<T>(seed: number, f: () => T): T {
  const original = Math.random;
  Math.random = mulberry32(seed);
  try {
    return f();
  } finally {
    Math.random = original;
  }
}

/** A uniform generator on [0, 1) seeded with `seed` (mulberry32: 32 bits of state, the same sequence on every platform). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
