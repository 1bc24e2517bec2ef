#!/usr/bin/env node
// Where a compact LeNet-5's batch-256 time goes: each op of its forward pass alone, at the dense widths and at
// the widths compaction leaves (1 conv1 filter), with only a scalar read back (the sum), median of 30 runs,
// under the thread setting of the environment (TF_NUM_INTRAOP_THREADS). docs/compaction.md quotes its output.
// Needs `npm run build`.   node scripts/lenet5-ops.mjs [runs]
import { selectBackend, tf } from '../dist/backend/tf.js';
import { opMedianMs } from './op-median.mjs';

selectBackend();
const runs = Number(process.argv[2] ?? 30);
const rows = [];
function time(name, f) {
  rows.push(`| ${name} | ${opMedianMs(f, runs).toFixed(2)} |`);
}
const r = (s) => tf.randomNormal(s);
const x = r([256, 28, 28, 1]);
const [k1x1, k1x20, h1, h20, p1, p20, k2a, k2b] = [[5, 5, 1, 1], [5, 5, 1, 20], [256, 24, 24, 1], [256, 24, 24, 20], [256, 12, 12, 1], [256, 12, 12, 20], [5, 5, 1, 24], [5, 5, 20, 50]].map(r);
const [q24, q50, f384, f800, w384, w800] = [[256, 8, 8, 24], [256, 8, 8, 50], [256, 384], [256, 800], [384, 440], [800, 500]].map(r);
time('nothing (the sum of the input)', () => x);
time('conv1, 1 → 20 filters', () => tf.conv2d(x, k1x20, 1, 'valid'));
time('conv1, 1 → 1 filter', () => tf.conv2d(x, k1x1, 1, 'valid'));
time('max pool 2×2 of 24×24×20', () => tf.maxPool(h20, 2, 2, 'valid'));
time('max pool 2×2 of 24×24×1', () => tf.maxPool(h1, 2, 2, 'valid'));
time('conv2, 20 → 50 filters', () => tf.conv2d(p20, k2b, 1, 'valid'));
time('conv2, 1 → 24 filters', () => tf.conv2d(p1, k2a, 1, 'valid'));
time('max pool 2×2 of 8×8×50', () => tf.maxPool(q50, 2, 2, 'valid'));
time('max pool 2×2 of 8×8×24', () => tf.maxPool(q24, 2, 2, 'valid'));
time('dense 800 → 500', () => tf.matMul(f800, w800));
time('dense 384 → 440', () => tf.matMul(f384, w384));
console.log(`| op, batch 256 (intra-op threads: ${process.env.TF_NUM_INTRAOP_THREADS ?? 'TensorFlow default'}) | median ms |\n|---|---:|\n${rows.join('\n')}`);
