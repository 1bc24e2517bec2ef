#!/usr/bin/env node
// Reproduces a native heap corruption of the TensorFlow backend: signals delivered to this process while TensorFlow
// computes. A timer spawns a child process every 2 ms (each exit sends SIGCHLD) while the main thread runs batched
// predictions of a small MLP (784-28-99-10, batch 256) for 20 s. autoprune's signal guard (docs/reliability.md,
// "Signals") keeps those signals off the computing thread; without it, under one intra-op thread with oneDNN's graph
// rewrites off, the run aborted in 3 of 3 tries on 2026-12-06 ("corrupted size vs. prev_size", or a silent segfault):
//   AUTOPRUNE_SIGNAL_GUARD=0 TF_NUM_INTRAOP_THREADS=1 TF_ENABLE_ONEDNN_OPTS=0 node scripts/signal-crash-repro.mjs; echo "exit $?"
//   TF_NUM_INTRAOP_THREADS=1 TF_ENABLE_ONEDNN_OPTS=0 node scripts/signal-crash-repro.mjs   (guarded: runs to the end)
// Needs `npm run build`. With `--no-children` nothing is spawned.
import { spawn } from 'node:child_process';
import { selectBackend, tf } from '../dist/backend/tf.js';

selectBackend();
const children = !process.argv.includes('--no-children');
const layers = [28, 99, 10].map((units, i) => tf.layers.dense({ units, activation: i < 2 ? 'relu' : 'softmax', ...(i === 0 ? { inputShape: [784] } : {}) }));
const model = tf.sequential({ layers });
const x = tf.randomUniform([256, 784]);
let exited = 0;
const timer = children ? setInterval(() => { spawn('true').on('exit', () => { exited++; }); }, 2) : undefined;
const until = Date.now() + 20_000;
let calls = 0;
while (Date.now() < until) {
  for (let i = 0; i < 50; i++, calls++) {
    const y = model.predict(x, { batchSize: 256 });
    y.dataSync();
    y.dispose();
  }
  await new Promise((resolve) => setImmediate(resolve));
}
if (timer) clearInterval(timer);
console.log(`${calls} predict calls, ${exited} child processes exited during them: no crash`);
