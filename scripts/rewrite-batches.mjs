#!/usr/bin/env node
// Whether the one-channel rewrites pay at every batch size (docs/compaction.md, "One-channel feature maps"): a compact
// LeNet-5 shape (conv1 / conv2 / dense widths, default the page's `--objective flops` @0.9 row: 1 / 24 / 447),
// random weights, sliced vs rewritten (src/pruning/rewrite.ts), one `predict(x, {batchSize})` call per batch,
// timed in alternation, medians. Needs `npm run build`.   node scripts/rewrite-batches.mjs [runs] [c1/c2/d]
import { selectBackend } from '../dist/backend/tf.js';
import { compareLatency } from '../dist/bench/latency.js';
import { buildModel, LENET_5 } from '../dist/models/families.js';
import { rewriteForSpeed } from '../dist/pruning/rewrite.js';

selectBackend();
const runs = Number(process.argv[2] ?? 60);
const [c1, c2, d] = (process.argv[3] ?? '1/24/447').split('/').map(Number);
const sliced = buildModel({ ...LENET_5, convs: [{ filters: c1, kernel: 5 }, { filters: c2, kernel: 5 }], dense: [d], seed: 0 });
const { model: rewritten, rewrites } = rewriteForSpeed(sliced);
console.log(`widths ${c1} / ${c2} / ${d}; rewrites: ${rewrites.map((w) => w.kind).join(', ') || 'none'}; TF_NUM_INTRAOP_THREADS=${process.env.TF_NUM_INTRAOP_THREADS ?? 'default'}`);
console.log('| batch | sliced ms | rewritten ms | speed-up |\n|---:|---:|---:|---:|');
for (const batch of [1, 8, 32, 64, 128, 256]) {
  const [a, b] = compareLatency([sliced, rewritten], [28, 28, 1], { batch, runs });
  console.log(`| ${batch} | ${a.medianMs.toFixed(3)} | ${b.medianMs.toFixed(3)} | ${(a.medianMs / b.medianMs).toFixed(2)}× |`);
}
