import { tf } from '../backend/tf.js';
import { UsageError } from '../errors.js';
import { Rng } from '../util/random.js';
import type { Dataset, Split } from './dataset.js';

export interface SyntheticOptions {
  /** Total number of samples over the three splits. Default 1200. */
  samples?: number;
  /** Input features per sample. Default 20. */
  features?: number;
  /** Number of classes. Default 3. */
  classes?: number;
  /** Features that carry the class signal: inputs 0..informative-1; the rest are pure N(0, 1) noise. Default 8. */
  informative?: number;
  /** Seed of the centroids, the samples and their order. Default 0. */
  seed?: number;
  /** Standard deviation of the samples around their class centroid (centroid coordinates are N(0, 1)). Default 0.5. */
  noise?: number;
}

export const SYNTHETIC_DEFAULTS = Object.freeze({
  samples: 1200, features: 20, classes: 3, informative: 8, seed: 0, noise: 0.5,
});

/** Fractions of the samples in the train, validation and test splits. */
const SPLIT = [0.7, 0.15, 0.15] as const;

function checkInt(name: string, v: number, min: number, max = Infinity): void {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new UsageError(`synthetic data: ${name} must be an integer in [${min}, ${max}], got ${v}`);
  }
}

/**
 * A seeded Gaussian-cluster classification task: each class has a centroid in the first `informative`
 * inputs; the other inputs are independent noise, so a pruner can learn to drop them. Classes are balanced
 * inside each split (70/15/15); every split is shuffled with `seed`.
 */
export function loadSynthetic(options: SyntheticOptions = {}): Dataset {
  const o = { ...SYNTHETIC_DEFAULTS };
  for (const [k, v] of Object.entries(options)) if (v !== undefined) (o as Record<string, number>)[k] = v as number;
  checkInt('classes', o.classes, 2);
  checkInt('features', o.features, 1);
  checkInt('informative', o.informative, 1, o.features);
  checkInt('samples', o.samples, Math.ceil(o.classes / SPLIT[1]));
  if (!(o.noise >= 0 && Number.isFinite(o.noise))) {
    throw new UsageError(`synthetic data: noise must be a finite number >= 0, got ${o.noise}`);
  }
  const rng = new Rng(o.seed);
  const centroids: number[][] = [];
  for (let c = 0; c < o.classes; c++) {
    centroids.push(Array.from({ length: o.informative }, () => rng.normal()));
  }
  const nVal = Math.round(o.samples * SPLIT[1]);
  const nTest = Math.round(o.samples * SPLIT[2]);
  const make = (n: number): Split => {
    const F = o.features;
    const x = new Float32Array(n * F);
    const labels = new Int32Array(n);
    const order = rng.permutation(n);
    for (let i = 0; i < n; i++) {
      // Round-robin labels before the shuffle make the split balanced to within one sample per class.
      const c = order[i] % o.classes;
      labels[i] = c;
      for (let j = 0; j < F; j++) {
        x[i * F + j] = j < o.informative ? centroids[c][j] + o.noise * rng.normal() : rng.normal();
      }
    }
    return { x: tf.tensor2d(x, [n, F]), labels };
  };
  const train = make(o.samples - nVal - nTest);
  const val = make(nVal);
  const test = make(nTest);
  return {
    name: 'synthetic',
    source: `synthetic(samples=${o.samples}, features=${o.features}, classes=${o.classes}, ` +
      `informative=${o.informative}, noise=${o.noise}, seed=${o.seed})`,
    inputShape: [o.features],
    numClasses: o.classes,
    classNames: Array.from({ length: o.classes }, (_, c) => `class ${c}`),
    train, val, test,
    dispose() {
      [train, val, test].forEach((s) => s.x.dispose());
    },
  };
}
