#!/usr/bin/env node
// Strict alternation (a, b, c, a, b, c, …) against turns of 10 calls (sampleLatency's `block`), for MLPs of
// LeNet-300-100's dense and compact shapes (784-300-100-10 and the unit-pruned 784-28-99-10) and the floor model
// (784-1-10), batch 256, one predict call each, output read back; medians in ms, three repetitions. Run it once per
// runtime setting, e.g. `TF_NUM_INTRAOP_THREADS=1 TF_ENABLE_ONEDNN_OPTS=0 node scripts/latency-blocks.mjs`.
// Needs `npm run build`.
import { selectBackend, tf } from '../dist/backend/tf.js';
import { floorModel, sampleLatency, summarize } from '../dist/bench/latency.js';

selectBackend();
const mlp = (widths) => tf.sequential({
  layers: widths.map((units, i) => tf.layers.dense({ units, activation: i < widths.length - 1 ? 'relu' : 'softmax', ...(i === 0 ? { inputShape: [784] } : {}) })),
});
const models = [mlp([300, 100, 10]), mlp([28, 99, 10]), floorModel([784], 10)];
const ms = (times) => times.map((t) => summarize(t, 256).medianMs.toFixed(3)).join(' / ');
const ratio = (times) => (summarize(times[0], 256).medianMs / summarize(times[1], 256).medianMs).toFixed(2);
console.log(`TF_NUM_INTRAOP_THREADS=${process.env.TF_NUM_INTRAOP_THREADS ?? '(default)'} TF_ENABLE_ONEDNN_OPTS=${process.env.TF_ENABLE_ONEDNN_OPTS ?? '(default)'}; ms dense / compact / floor`);
for (let rep = 0; rep < 3; rep++) {
  const alternating = sampleLatency(models, [784], { batch: 256, runs: 300, warmup: 20, block: 1 });
  const turns = sampleLatency(models, [784], { batch: 256, runs: 300, warmup: 20, block: 10 });
  console.log(`call by call: ${ms(alternating)} (dense ÷ compact ${ratio(alternating)}) | turns of 10: ${ms(turns)} (${ratio(turns)})`);
}
models.forEach((m) => m.dispose());
