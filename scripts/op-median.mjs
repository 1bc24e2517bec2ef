// Median ms of one op (or a few) at a time, with only a scalar read back (the sum), after a few untimed calls:
// the op-level timer of scripts/lenet5-ops.mjs and scripts/rewrite-crossover.mjs. Needs `npm run build`.
import { tf } from '../dist/backend/tf.js';

export function opMedianMs(f, runs, warmup = 3) {
  for (let i = 0; i < warmup; i++) tf.tidy(() => tf.sum(f())).dataSync();
  const ts = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    tf.tidy(() => tf.sum(f())).dataSync();
    ts.push(performance.now() - t0);
  }
  ts.sort((a, b) => a - b);
  return ts[runs >> 1];
}
