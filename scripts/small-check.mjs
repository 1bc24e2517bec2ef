// The agent (CLI defaults) on chosen small tables, per target and seed: test accuracy, and with BASE=1 global magnitude
// one-shot + fine-tune at the same optimizer steps; SCORER=magnitude runs the agent with plain magnitude. Quicker
// than `autoprune bench --suite small` when only the agent changed.
//   node scripts/small-check.mjs [agent options as JSON] [cases] [targets] [seeds]
//   e.g. BASE=1 node scripts/small-check.mjs {} cars-origin,seattle-weather 0.8,0.9 0,1,2
import { runAgent } from '../dist/agent/loop.js';
import { loadModel } from '../dist/models/io.js';
import { loadDataset } from '../dist/data/registry.js';
import { fitDatasetToModel } from '../dist/models/task.js';
import { accuracy } from '../dist/models/train.js';
import { loadPolicy } from '../dist/policy/io.js';
import { smallCasePaths, magnitudeBaseline } from '../dist/bench/small-suite.js';
import { selectBackend } from '../dist/index.js';
selectBackend();
const variant = JSON.parse(process.argv[2] ?? '{}');
const cases = (process.argv[3] ?? 'cars-origin,seattle-weather,gapminder-cluster').split(',');
const targets = (process.argv[4] ?? '0.8,0.9').split(',').map(Number);
const seeds = (process.argv[5] ?? '0,1,2').split(',').map(Number);
const withBase = process.env.BASE === '1';
const { globalMagnitudeScorer } = await import('../dist/policy/baselines.js');
const { resolveScorer } = await import('../dist/policy/io.js');
// SCORER: 'magnitude' (plain global magnitude), or any policy spec --policy takes (e.g. linear, linear@0.25+lamp).
const policy = process.env.SCORER === 'magnitude' ? globalMagnitudeScorer() : process.env.SCORER ? resolveScorer(process.env.SCORER) : loadPolicy('default');
let sumA = 0, sumB = 0, n = 0;
for (const c of cases) for (const target of targets) for (const seed of seeds) {
  const p = smallCasePaths(c);
  const model = await loadModel(p.model);
  const data = loadDataset(p.data, { seed: 0, standardize: false });
  const fitted = fitDatasetToModel(data, model);
  const r = await runAgent(model, fitted, policy, { target, seed, ...variant });
  const test = accuracy(model, fitted.test);
  const steps = r.totals.fineTuneSteps;
  let base = NaN;
  if (withBase) base = (await magnitudeBaseline(c, seed, target, steps, r.budget.batchSize, r.budget.roundSteps)).test;
  console.log(JSON.stringify({ c, target, seed, exit: r.exitCode, sparsity: +r.sparsity.global.toFixed(4), test: +(100 * test).toFixed(2), base: +(100 * base).toFixed(2), steps }));
  sumA += test; sumB += base; n++;
  r.masks?.dispose?.();
  if (fitted !== data) fitted.dispose(); data.dispose(); model.dispose();
}
console.log('MEAN agent', (100 * sumA / n).toFixed(2), 'base', (100 * sumB / n).toFixed(2), JSON.stringify(variant));
