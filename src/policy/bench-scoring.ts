import { FEATURE_SCHEMA } from '../features/schema.js';
import type { ConnectionFeatures } from '../features/types.js';
import { Rng } from '../util/random.js';
import { trainCartPolicy } from './cart-policy.js';

export interface BenchScoringOptions {
  /** Connections scored per repeat. Default 2,000,000. */
  rows?: number;
  /** Depth of the CART policy. Default 12. */
  depth?: number;
  /** Rows the tree is trained on. Default 40,000. */
  trainRows?: number;
  /** Timed repeats; the best is reported. Default 5. */
  repeats?: number;
  seed?: number;
}

export interface BenchScoringResult {
  rows: number;
  features: number;
  depth: number;
  leaves: number;
  /** Distinct features the tree reads. */
  usedFeatures: number;
  /** Compiled-tree evaluation only, connections per second of wall time (best repeat). */
  treePerSecond: number;
  /** Policy.score (tree + tie-break), connections per second of wall time (best repeat). */
  scorePerSecond: number;
  /** Policy.score per second of this process's CPU time (what one core does when others compete). */
  scorePerCpuSecond: number;
  /** Seconds spent training the tree (not part of the throughput). */
  trainSeconds: number;
}

/**
 * Synthetic connection features of the real schema: heavy-tailed magnitudes and saliencies, bounded
 * ranks and fractions, a few discrete layer-context values; the label mixes several of them
 * non-linearly plus noise, so a depth-12 tree grows to full depth and reads many features.
 */
function syntheticFeatures(n: number, rng: Rng): { columns: Float32Array[]; labels: Float32Array } {
  const F = FEATURE_SCHEMA.names.length;
  const columns = Array.from({ length: F }, () => new Float32Array(n));
  const labels = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const layer = rng.int(4);
    for (let f = 0; f < F; f++) {
      const kind = f % 4;
      columns[f][i] = kind === 0 ? Math.exp(rng.normal() - 2) : kind === 1 ? rng.next() : kind === 2 ? rng.normal() : layer / 3 + 0.01 * f;
    }
    const z = 1.5 * (0.5 - columns[4][i]) + 0.8 * columns[2][i] * columns[6][i] - Math.log(columns[8][i] + 0.01) * 0.2 +
      Math.sin(3 * columns[10][i]) + 0.3 * layer + 0.5 * rng.normal();
    labels[i] = 1 / (1 + Math.exp(-z));
  }
  return { columns, labels };
}

function best(repeats: number, run: () => void): { wall: number; cpu: number } {
  let wall = Infinity, cpu = Infinity;
  for (let r = 0; r < repeats; r++) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    run();
    const dt = Number(process.hrtime.bigint() - t0) / 1e9;
    const c = process.cpuUsage(c0);
    wall = Math.min(wall, dt);
    cpu = Math.min(cpu, (c.user + c.system) / 1e6);
  }
  return { wall, cpu };
}

/**
 * Scoring throughput of a compiled depth-`depth` CART policy on one thread: trains a tree on synthetic
 * features, then scores `rows` connections `repeats` times. Returns data; prints nothing.
 */
export function benchScoring(opts: BenchScoringOptions = {}): BenchScoringResult {
  const rows = opts.rows ?? 2_000_000;
  const depth = opts.depth ?? 12;
  const trainRows = opts.trainRows ?? 40_000;
  const repeats = opts.repeats ?? 5;
  const rng = new Rng(opts.seed ?? 0);
  const train = syntheticFeatures(trainRows, rng);
  const t0 = Date.now();
  const policy = trainCartPolicy(train.columns, train.labels, { maxDepth: depth, minNumSamples: 4, minLeafSamples: 2, minGain: 0, name: 'bench' });
  const trainSeconds = (Date.now() - t0) / 1000;
  const test = syntheticFeatures(rows, rng);
  const features: ConnectionFeatures = {
    schema: FEATURE_SCHEMA,
    layers: [{ layer: 0, name: 'bench', count: rows, indices: Int32Array.from({ length: rows }, (_, i) => i), columns: test.columns }],
  };
  const out = new Float32Array(rows);
  policy.compiled.evaluate(test.columns, out); // warm-up (JIT)
  policy.score(features);
  const tree = best(repeats, () => policy.compiled.evaluate(test.columns, out));
  const score = best(repeats, () => policy.score(features));
  const used = new Set<number>();
  let leaves = 0;
  const t = policy.tree;
  for (let k = 0; k < t.left.length; k++) {
    if (t.left[k] < 0) leaves++;
    else used.add(t.feature[k]);
  }
  return {
    rows,
    features: FEATURE_SCHEMA.names.length,
    depth: policy.depth,
    leaves,
    usedFeatures: used.size,
    treePerSecond: rows / tree.wall,
    scorePerSecond: rows / score.wall,
    scorePerCpuSecond: rows / score.cpu,
    trainSeconds,
  };
}
