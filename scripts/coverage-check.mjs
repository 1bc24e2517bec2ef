// The agent alone (runAgent, CLI defaults) on one CSV case of the coverage suite at 0.8, with agent options
// as JSON: e.g. whether the magnitude check helps a model type. Prints every step and the result.
//   node scripts/coverage-check.mjs lstm-text '{"magnitudeCheck": false}'
//   node scripts/coverage-check.mjs autoencoder '{}' mnist-10k      (a case whose data is not its own CSV)
import { fileURLToPath } from 'node:url';
import { runAgent } from '../dist/agent/loop.js';
import { loadModel } from '../dist/models/io.js';
import { loadDataset } from '../dist/data/registry.js';
import { fitDatasetToModel, taskOf, csvTargetsOf } from '../dist/models/task.js';
import { accuracy } from '../dist/models/train.js';
import { loadPolicy } from '../dist/policy/io.js';
import { selectBackend } from '../dist/index.js';
selectBackend();
const root = fileURLToPath(new URL('..', import.meta.url));
const [name, opts] = [process.argv[2], JSON.parse(process.argv[3] ?? '{}')];
const model = await loadModel(`${root}/datasets/coverage/${name}/model/model.json`);
const targets = csvTargetsOf(taskOf(model));
const source = process.argv[4] ?? `${root}/datasets/coverage/${name}/data.csv`;
const data = loadDataset(source, source.endsWith('.csv') ? { seed: 0, standardize: false, ...(targets != null ? { targets } : {}) } : {});
const fitted = fitDatasetToModel(data, model);
const t0 = Date.now();
const r = await runAgent(model, fitted, loadPolicy('default'), { target: 0.8, seed: 0, ...opts, onEvent: (e) => { if (e.type === 'step' || e.type === 'rollback') console.log(e.type, e.toSparsity.toFixed(3), e.valAccuracy.toFixed(3)); } });
console.log(name, JSON.stringify(opts), 'exit', r.exitCode, 'sparsity', r.sparsity.global.toFixed(3), 'test', accuracy(model, fitted.test).toFixed(4), 'criteria', JSON.stringify(r.totals.criteria), ((Date.now() - t0) / 1000).toFixed(0), 's');
