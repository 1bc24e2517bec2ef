#!/usr/bin/env node
// What one-shot pruning does before any fine-tuning: per model, the validation metric and loss of the dense model and
// right after global magnitude to 75 / 50 / 25 % of the prunable weights (no optimizer step). For sizing the first step.
//   node scripts/first-step-probe.mjs
const { loadMnist10k } = await import('../dist/data/mnist.js');
const { trainedModel } = await import('../dist/models/cache.js');
const { fitDatasetToModel, taskOf, csvTargetsOf } = await import('../dist/models/task.js');
const { architecture } = await import('../dist/models/families.js');
const { evaluate } = await import('../dist/models/train.js');
const { loadModel } = await import('../dist/models/io.js');
const { loadDataset } = await import('../dist/data/registry.js');
const { PrunableModel, disposeSnapshot } = await import('../dist/pruning/prunable-model.js');
const { extractFeatures } = await import('../dist/features/extract.js');
const { globalMagnitudeScorer } = await import('../dist/policy/baselines.js');
const { pruneByScores } = await import('../dist/pruning/select.js');
const { coverageCases, coveragePaths } = await import('../dist/bench/coverage-suite.js');
const { smallSuiteCases, smallCasePaths } = await import('../dist/bench/small-suite.js');

function probe(name, model, data) {
  const fitted = fitDatasetToModel(data, model, taskOf(model));
  const pm = new PrunableModel(model);
  const n = Math.min(1024, fitted.train.x.shape[0]);
  const calib = { x: fitted.train.x.slice(0, n), labels: fitted.train.labels.slice(0, n), ...(fitted.train.y ? { y: fitted.train.y.slice(0, n) } : {}) };
  const feats = extractFeatures(pm, calib);
  const scores = globalMagnitudeScorer().score(feats);
  const d = evaluate(model, fitted.val);
  const parts = [`${name}: dense ${d.accuracy.toFixed(3)} loss ${d.loss.toFixed(3)}`];
  for (const r of [0.75, 0.5, 0.25]) {
    const snap = pm.snapshot();
    pruneByScores(pm, scores, feats, r);
    const e = evaluate(model, fitted.val);
    parts.push(`@${r} ${e.accuracy.toFixed(3)} loss ${e.loss.toFixed(3)} (×${(e.loss / d.loss).toFixed(2)})`);
    pm.restore(snap); disposeSnapshot(snap);
  }
  console.log(parts.join(' | '));
  pm.dispose();
}
const mnist = loadMnist10k({ seed: 0 });
for (const name of ['lenet-300-100', 'lenet-5']) {
  const cached = await trainedModel({ args: { ...architecture(name), seed: 0 }, train: { epochs: 15, seed: 0 } }, mnist);
  probe(name, cached.model, mnist);
}
for (const c of coverageCases()) {
  const p = coveragePaths(c);
  const model = await loadModel(p.model);
  const f = c.flags ?? []; const li = f.indexOf('--label');
  const targets = csvTargetsOf(taskOf(model));
  const data = p.data === 'mnist-10k' ? mnist : loadDataset(p.data, { seed: 0, standardize: false, ...(targets != null ? { targets } : {}), ...(li >= 0 ? { label: f[li + 1] } : {}) });
  probe(c.name, model, data);
}
for (const c of smallSuiteCases()) {
  const p = smallCasePaths(c.name);
  probe(c.name, await loadModel(p.model), loadDataset(p.data, { seed: 0, standardize: false }));
}
