// One-shot baseline on a coverage case: a scorer (SCORER=global-magnitude|lamp|wanda|taylor, default
// global-magnitude; `policy`: the default learned policy) straight to the target, then masked fine-tuning for each of the given optimizer-step
// counts (batch BS, default 64); prints the test metric before and after. How far a budget gets a plain script.
//   node scripts/coverage-baseline.mjs autoencoder mnist-10k 0.8 945,3000
//   BS=16 node scripts/coverage-baseline.mjs regression datasets/coverage/regression/data.csv 0.8 1200
import { fileURLToPath } from 'node:url';
import { loadModel } from '../dist/models/io.js';
import { loadDataset } from '../dist/data/registry.js';
import { fitDatasetToModel, taskOf, csvTargetsOf } from '../dist/models/task.js';
import { accuracy } from '../dist/models/train.js';
import { oneShot } from '../dist/bench/one-shot.js';
import { selectBackend } from '../dist/index.js';
import { createScorer } from '../dist/policy/baselines.js';
import { loadPolicy } from '../dist/policy/io.js';
selectBackend();
const root = fileURLToPath(new URL('..', import.meta.url));
const name = process.argv[2] ?? 'autoencoder';
const data0 = process.argv[3] ?? 'mnist-10k';
const target = Number(process.argv[4] ?? 0.8);
for (const steps of (process.argv[5] ?? '945,3000').split(',').map(Number)) {
  const model = await loadModel(`${root}/datasets/coverage/${name}/model/model.json`);
  const targets = csvTargetsOf(taskOf(model));
  const data = loadDataset(data0, data0.includes('.csv') ? { seed: 0, standardize: false, ...(targets != null ? { targets } : {}) } : {});
  const fitted = fitDatasetToModel(data, model);
  const dense = accuracy(model, fitted.test);
  const r = oneShot(model, fitted, (process.env.SCORER === 'policy' ? loadPolicy('default') : createScorer(process.env.SCORER ?? 'global-magnitude')), { target, seed: 1, fineTune: { steps, batchSize: Number(process.env.BS ?? 64), roundSteps: 126, val: true, patience: 1e9, lrDecay: 0.3 } });
  console.log(name, target, steps, 'dense', dense.toFixed(4), 'before FT', r.testBefore.toFixed(4), 'after', r.testAfter.toFixed(4), 'val', r.valAfter.toFixed(4), 'layers', r.layerSparsity.map((x) => x.toFixed(2)).join(','));
  if (fitted !== data) fitted.dispose();
  data.dispose();
  model.dispose();
}
