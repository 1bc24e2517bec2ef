#!/usr/bin/env node
// One scoring pass of the agent, timed alone and repeated in one process: features + the default policy's
// scores (extractScored, one layer at a time, only the columns the tree reads) and the selection
// (pruneByScores to 0.75), on an untrained MLP 784 → W → W → 10 with every weight live, MNIST-10k calibration
// data. Prints seconds and µs per prunable weight for each repetition: the first pays TensorFlow's and V8's
// warm-up, the later ones show the steady cost (docs/benchmarks.md, "Scale").
//
//   npm run build && node scripts/bench-scoring-pass.mjs [W=3000] [repetitions=3]
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist');
const load = (m) => import(join(dist, m));
const { selectBackend, tf } = await load('backend/tf.js');
const { extractScored, scoreLayerWith } = await load('features/extract.js');
const { PrunableModel, disposeSnapshot } = await load('pruning/prunable-model.js');
const { pruneByScores } = await load('pruning/select.js');
const { loadPolicy } = await load('policy/io.js');
const { headOf } = await load('data/dataset.js');
const { loadMnist10k } = await load('data/mnist.js');
selectBackend();
const width = Number(process.argv[2] ?? 3000);
const reps = Number(process.argv[3] ?? 3);
const data = loadMnist10k({ seed: 0 });
const init = (seed) => ({ kernelInitializer: tf.initializers.glorotUniform({ seed }) });
const model = tf.sequential({ layers: [
  tf.layers.dense({ inputShape: [784], units: width, activation: 'relu', ...init(1) }),
  tf.layers.dense({ units: width, activation: 'relu', ...init(2) }),
  tf.layers.dense({ units: 10, activation: 'softmax', ...init(3) }),
] });
const pm = new PrunableModel(model);
const calib = headOf(data.train, 1024);
const perLayer = scoreLayerWith(loadPolicy('default'));
console.log(`W ${width}: ${pm.totalPrunable.toLocaleString('en-US')} prunable weights`);
for (let rep = 1; rep <= reps; rep++) {
  let t = Date.now();
  const { features, scores } = extractScored(pm, calib, perLayer, { chunk: perLayer.chunk, needs: perLayer.needs });
  const featureSeconds = (Date.now() - t) / 1000;
  const snap = pm.snapshot();
  t = Date.now();
  pruneByScores(pm, scores, features, 0.75);
  const selectSeconds = (Date.now() - t) / 1000;
  pm.restore(snap);
  disposeSnapshot(snap);
  const us = ((featureSeconds + selectSeconds) / pm.totalPrunable) * 1e6;
  console.log(`pass ${rep}: features + scoring ${featureSeconds.toFixed(2)} s, selection ${selectSeconds.toFixed(2)} s, ${us.toFixed(3)} µs per weight`);
}
