#!/usr/bin/env node
// What TensorFlow's runtime settings cost small and large work, on this machine: the median time of
// tf.matMul at a few shapes (inference-sized) and of one training epoch of LeNet-300-100 and LeNet-5
// (MNIST-10k, batch 128). TensorFlow reads the settings once at start-up, so run it once per setting:
//
//   node scripts/runtime-settings.mjs
//   TF_NUM_INTRAOP_THREADS=1 node scripts/runtime-settings.mjs
//   TF_ENABLE_ONEDNN_OPTS=0 node scripts/runtime-settings.mjs
//   TF_NUM_INTRAOP_THREADS=1 TF_ENABLE_ONEDNN_OPTS=0 node scripts/runtime-settings.mjs
//
// docs/compaction.md ("Serving small models") quotes its output. Needs `npm run build`.
import { selectBackend, tf } from '../dist/backend/tf.js';
import { loadMnist10k } from '../dist/data/mnist.js';
import { architecture, buildModel } from '../dist/models/families.js';
import { fitDatasetToModel } from '../dist/models/task.js';
import { train } from '../dist/models/train.js';

selectBackend();
const setting = `threads ${process.env.TF_NUM_INTRAOP_THREADS ?? 'auto'}, oneDNN ${process.env.TF_ENABLE_ONEDNN_OPTS === '0' ? 'off' : 'on'}`;
const median = (v) => [...v].sort((a, b) => a - b)[v.length >> 1];
const out = { setting, matMulMicros: {}, epochSeconds: {} };
for (const [m, k, n] of [[64, 64, 64], [256, 40, 98], [256, 784, 44], [256, 784, 300]]) {
  const a = tf.randomUniform([m, k]);
  const b = tf.randomUniform([k, n]);
  const times = [];
  for (let i = 0; i < 550; i++) {
    const t0 = performance.now();
    const y = tf.matMul(a, b);
    y.dataSync();
    y.dispose();
    if (i >= 50) times.push(performance.now() - t0);
  }
  out.matMulMicros[`${m}x${k}·${k}x${n}`] = Math.round(1000 * median(times));
  a.dispose();
  b.dispose();
}
const data = loadMnist10k({ seed: 0 });
for (const name of ['lenet-300-100', 'lenet-5']) {
  const model = buildModel({ ...architecture(name), seed: 0 });
  const fitted = fitDatasetToModel(data, model);
  train(model, fitted.train, { epochs: 1, batchSize: 128 });
  const t0 = performance.now();
  train(model, fitted.train, { epochs: 2, batchSize: 128 });
  out.epochSeconds[name] = Number(((performance.now() - t0) / 2000).toFixed(2));
  if (fitted !== data) fitted.dispose();
  model.dispose();
}
data.dispose();
console.log(JSON.stringify(out));
