#!/usr/bin/env node
// Where the one-channel rewrites of src/pruning/rewrite.ts pay (docs/compaction.md, "One-channel feature maps"):
// at batch 256, each op alone with a scalar read back, median of `runs`, TensorFlow's default threads:
//  - a 2×2/2 max pool of H×H×C against the rewrite (transpose the window to the front, 1-D pool over it),
//  - a 5×5 conv of C_in → C_out channels with ReLU and a 2×2 max pool against the phase convolution (stride 2,
//    4·C_out filters of 6×6, then the max over each channel's 4 phases).
// Needs `npm run build`.   node scripts/rewrite-crossover.mjs [runs]
import { selectBackend, tf } from '../dist/backend/tf.js';
import { opMedianMs } from './op-median.mjs';

selectBackend();
const runs = Number(process.argv[2] ?? 30);
const median = (f) => opMedianMs(f, runs, 4);
const B = 256;
const out = ['| 2×2 max pool of | pool ms | rewritten ms | speed-up |', '|---|---:|---:|---:|'];
for (const H of [24, 12, 8]) {
  for (const C of [1, 2, 4, 8]) {
    const h = tf.randomNormal([B, H, H, C]);
    const P = (H / 2) * (H / 2) * C;
    const a = median(() => tf.maxPool(h, 2, 2, 'valid'));
    const b = median(() => tf.maxPool(tf.transpose(h.reshape([B, H / 2, 2, H / 2, 2 * C]), [0, 2, 4, 1, 3]).reshape([B, 4, 1, P]), [4, 1], [4, 1], 'valid'));
    out.push(`| ${H}×${H}×${C} | ${a.toFixed(3)} | ${b.toFixed(3)} | ${(a / b).toFixed(2)}× |`);
    h.dispose();
  }
}
out.push('', '| 5×5 conv + ReLU + 2×2 max pool, input → filters | ms | phase conv ms | speed-up |', '|---|---:|---:|---:|');
for (const [H, Ci] of [[28, 1], [12, 8]]) {
  for (const Co of [1, 2, 4, 8]) {
    const x = tf.randomNormal([B, H, H, Ci]);
    const k = tf.randomNormal([5, 5, Ci, Co]);
    const k4 = tf.randomNormal([6, 6, Ci, 4 * Co]);
    const P = ((H - 4) / 2) ** 2;
    const a = median(() => tf.maxPool(tf.relu(tf.conv2d(x, k, 1, 'valid')), 2, 2, 'valid'));
    const b = median(() => {
      const c = tf.relu(tf.conv2d(x, k4, 2, 'valid'));
      return tf.maxPool(tf.transpose(c.reshape([B, P, 4, Co]), [0, 2, 1, 3]).reshape([B, 4, 1, P * Co]), [4, 1], [4, 1], 'valid');
    });
    out.push(`| ${H}×${H}×${Ci} → ${Co} | ${a.toFixed(3)} | ${b.toFixed(3)} | ${(a / b).toFixed(2)}× |`);
    tf.dispose([x, k, k4]);
  }
}
console.log(out.join('\n'));
