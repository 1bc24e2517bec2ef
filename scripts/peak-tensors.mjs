#!/usr/bin/env node
// Where a scale-bench run (the agent to 0.9, 2-epoch budget, --force, on an untrained MLP 784 → W → W → 10 over
// MNIST-10k, as src/bench/scale-worker.ts runs it) holds the most live tensor bytes: tf.memory() is read after every
// native op, and the largest value is printed with the agent's phase and the autoprune frames that reached it.
// Resident memory follows this peak (TensorFlow's CPU allocator keeps its pool). Needs `npm run build`.
//   node scripts/peak-tensors.mjs [W=2000]
import { selectBackend, tf } from '../dist/backend/tf.js';
import { autoprune } from '../dist/api.js';
import { loadMnist10k } from '../dist/data/mnist.js';

selectBackend();
const width = Number(process.argv[2] ?? 2000);
const data = loadMnist10k({ seed: 0 });
const init = (seed) => ({ kernelInitializer: tf.initializers.glorotUniform({ seed }) });
const model = tf.sequential({ layers: [
  tf.layers.dense({ inputShape: [784], units: width, activation: 'relu', ...init(1) }),
  tf.layers.dense({ units: width, activation: 'relu', ...init(2) }),
  tf.layers.dense({ units: 10, activation: 'softmax', ...init(3) }),
] });
const prunable = 784 * width + width * width + 10 * width;
const base = tf.memory().numBytes;
let peak = base, where = '', phase = 'before the first event (checks, the dense control)';
const backend = tf.backend();
Error.stackTraceLimit = 60;
for (const fn of ['executeSingleOutput', 'executeMultipleOutputs']) {
  const run = backend[fn].bind(backend);
  backend[fn] = (...args) => {
    const out = run(...args);
    const bytes = tf.memory().numBytes;
    if (bytes > peak) {
      peak = bytes;
      where = `${phase}: ${args[0]}\n${new Error().stack.split('\n').filter((l) => l.includes('/dist/') && !l.includes('node_modules') && !l.includes('.native')).slice(0, 6).join('\n')}`;
    }
    return out;
  };
}
await autoprune({ model, data, target: 0.9, budgetEpochs: 2, policy: 'default', force: true,
  onEvent: (e) => { phase = `after the '${e.type}' event${e.step != null ? ` of step ${e.step}` : ''}`; } });
console.log(`W = ${width}: ${prunable.toLocaleString('en')} prunable weights; live tensors ${(base / 2 ** 20).toFixed(0)} MiB with the model and data, ` +
  `at most ${(peak / 2 ** 20).toFixed(0)} MiB (${((peak - base) / prunable).toFixed(1)} B per weight above), reached ${where}`);
