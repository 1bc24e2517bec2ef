#!/usr/bin/env node
// Gradual pruning (Zhu & Gupta's cubic schedule, n re-scored increments over 70 % of the default step budget, the
// rest a polish with lr decay) of a coverage-suite or small-suite model (datasets/coverage/ or datasets/small/), with a baseline scorer or the default policy: what a plain
// schedule reaches with the agent's own optimizer steps. STEPS=n overrides the budget.
//   node scripts/gradual-check.mjs <case> <mnist|csv> [target] [increments] [scorer|policy]
//   e.g. node scripts/gradual-check.mjs lstm-text csv 0.8 10 global-magnitude
const D = new URL('../dist/', import.meta.url).href;
const ROOT = new URL('..', import.meta.url).pathname;
const { loadDataset } = await import(D + 'data/registry.js');
const { loadModel } = await import(D + 'models/io.js');
const { fitDatasetToModel, taskOf } = await import(D + 'models/task.js');
const { PrunableModel } = await import(D + 'pruning/prunable-model.js');
const { extractFeatures } = await import(D + 'features/extract.js');
const { pruneByScores } = await import(D + 'pruning/select.js');
const { createScorer } = await import(D + 'policy/baselines.js');
const { loadPolicy } = await import(D + 'policy/io.js');
const { trainAsync, evaluate } = await import(D + 'models/train.js');
const { headOf } = await import(D + 'data/dataset.js');
const { resolveBudget } = await import(D + 'agent/budget.js');
const [name, dataArg, targetS, incS, scorerName] = process.argv.slice(2);
const target = Number(targetS ?? 0.8), n = Number(incS ?? 10);
const { existsSync } = await import('node:fs');
const dir = existsSync(`${ROOT}datasets/small/${name}`) ? `${ROOT}datasets/small/${name}` : `${ROOT}datasets/coverage/${name}`;
const model = await loadModel(`${dir}/model/model.json`);
const task = taskOf(model);
const { csvTargetsOf } = await import(D + 'models/task.js'); const tg = csvTargetsOf(task); const raw = loadDataset(dataArg === 'mnist' ? 'mnist-10k' : `${dir}/data.csv`, dataArg === 'mnist' ? {} : { standardize: false, ...(tg != null ? { targets: tg } : {}) });
const data = fitDatasetToModel(raw, model, task);
const b = resolveBudget(data.train.labels.length, process.env.STEPS ? { budgetSteps: Number(process.env.STEPS) } : {});
const scorer = scorerName === 'policy' ? loadPolicy(`${ROOT}policies/default.json`) : createScorer(scorerName ?? 'global-magnitude');
const pm = new PrunableModel(model);
const calib = headOf(data.train, 1024);
const dense = evaluate(model, data.test).accuracy;
const t0 = Date.now();
const pruneSteps = Math.round(0.7 * b.budgetSteps);
let used = 0;
for (let k = 1; k <= n; k++) {
  const s = target * (1 - (1 - k / n) ** 3);
  const f = extractFeatures(pm, calib);
  pruneByScores(pm, scorer.score(f), f, s);
  const steps = Math.round((k * pruneSteps) / n) - used;
  const r = await trainAsync(model, data.train, { steps, batchSize: b.batchSize, prunable: pm, seed: k });
  used += r.stepsRun;
}
const r = await trainAsync(model, data.train, { steps: b.budgetSteps - used, batchSize: b.batchSize, roundSteps: b.roundSteps, prunable: pm, val: data.val, lrDecay: 0.3, seed: 99 });
used += r.stepsRun;
const after = evaluate(model, data.test).accuracy;
console.log(`${name} ${scorer.name} n=${n} @${target}: sparsity ${pm.sparsity().global.toFixed(3)} test ${dense.toFixed(4)} → ${after.toFixed(4)} (${(100*(after-dense)).toFixed(2)} pts), ${used} steps, ${((Date.now()-t0)/1000).toFixed(1)} s`);
