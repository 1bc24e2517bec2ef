#!/usr/bin/env node
// What a compact LeNet-5 costs at batch 256, by the widths compaction leaves (conv1 filters / conv2
// filters / Dense units): models of those shapes (random weights: the time does not depend on the
// values), timed in alternation with the dense 20/50/500 on this machine under TensorFlow's defaults.
// docs/compaction.md quotes its output. Needs `npm run build`.
//
//   node scripts/lenet5-widths.mjs [runs] [c1/c2/d,c1/c2/d,...]   (the dense 20/50/500 is always timed first)
import { selectBackend } from '../dist/backend/tf.js';
import { compareLatency } from '../dist/bench/latency.js';
import { architecture, buildModel } from '../dist/models/families.js';

selectBackend();
const widths = process.argv[3]
  ? [[20, 50, 500], ...process.argv[3].split(',').map((w) => w.split('/').map(Number))]
  : [[20, 50, 500], [1, 50, 500], [1, 43, 373], [1, 23, 455], [2, 30, 300], [1, 20, 200], [1, 10, 100], [1, 1, 1]];
const models = widths.map(([c1, c2, d]) =>
  buildModel({ ...architecture('lenet-5'), convs: [{ filters: c1, kernel: 5 }, { filters: c2, kernel: 5 }], dense: [d], seed: 0 }));
const runs = Number(process.argv[2] ?? 60);
const lat = compareLatency(models, [28, 28, 1], { batch: 256, runs });
console.log('| conv1 / conv2 / dense | median ms, batch 256 | speed-up vs 20 / 50 / 500 |\n|---|---|---|');
widths.forEach((w, i) => console.log(`| ${w.join(' / ')} | ${lat[i].medianMs.toFixed(2)} | ${(lat[0].medianMs / lat[i].medianMs).toFixed(2)}× |`));
models.forEach((m) => m.dispose());
