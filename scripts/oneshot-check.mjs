#!/usr/bin/env node
// node scripts/oneshot-check.mjs [models] [seeds] [targets] (docs/oracle.md). One-shot learned (default@0.25+lamp) vs LAMP vs "checked": the learned cut unless LAMP's cut has clearly lower
// per-row calibration loss right after pruning (paired, z 1.64), then the same 5 fine-tune epochs.
const D = new URL('../dist', import.meta.url).href;
const { loadMnist10k } = await import(`${D}/data/mnist.js`);
const { trainedModel } = await import(`${D}/models/cache.js`);
const { fitDatasetToModel } = await import(`${D}/models/task.js`);
const { architecture } = await import(`${D}/models/families.js`);
const { accuracy, rowLosses, train } = await import(`${D}/models/train.js`);
const { cloneModel } = await import(`${D}/models/io.js`);
const { oneShotScorer, resolveScorer } = await import(`${D}/policy/io.js`);
const { PrunableModel, disposeSnapshot } = await import(`${D}/pruning/prunable-model.js`);
const { pruneByScores } = await import(`${D}/pruning/select.js`);
const { extractFeatures } = await import(`${D}/features/extract.js`);
const { headOf, disposeSplit } = await import(`${D}/data/dataset.js`);
const { clearlyLower } = await import(`${D}/util/paired.js`);
const policyFile = (n) => new URL(`../policies/${n}.json`, import.meta.url).pathname;
const models = (process.argv[2] ?? 'lenet-5').split(',');
const seeds = (process.argv[3] ?? '0,1,2').split(',').map(Number);
const targets = (process.argv[4] ?? '0.95,0.98').split(',').map(Number);
const data = loadMnist10k({ seed: 0 });
const sum = {};
for (const name of models) for (const seed of seeds) {
  const cached = await trainedModel({ args: { ...architecture(name), seed }, train: { epochs: 15, seed } }, data);
  const fitted = fitDatasetToModel(data, cached.model);
  for (const target of targets) {
    const res = {};
    for (const method of ['learned', 'lamp', 'checked']) {
      const model = await cloneModel(cached.model);
      const pm = new PrunableModel(model);
      const calib = headOf(fitted.train, 1024);
      const feats = extractFeatures(pm, calib);
      let pick = method;
      if (method === 'checked') {
        const snap = pm.snapshot();
        pruneByScores(pm, oneShotScorer(policyFile('default'), 'default@0.25+lamp').score(feats), feats, target);
        const lp = rowLosses(model, calib);
        pm.restore(snap);
        pruneByScores(pm, resolveScorer('lamp').score(feats), feats, target);
        const ll = rowLosses(model, calib);
        pm.restore(snap);
        disposeSnapshot(snap);
        pick = clearlyLower(ll, lp, 1.64) ? 'lamp' : 'learned';
        res.pick = pick;
      }
      const scorer = pick === 'lamp' ? resolveScorer('lamp') : oneShotScorer(policyFile('default'), 'default@0.25+lamp');
      pruneByScores(pm, scorer.score(feats), feats, target);
      train(model, fitted.train, { epochs: 5, prunable: pm, seed: 1000 + seed });
      res[method] = accuracy(model, fitted.test);
      disposeSplit(calib); pm.dispose(); model.dispose();
    }
    const k = `${name}@${target}`;
    sum[k] ??= { learned: 0, lamp: 0, checked: 0, n: 0 };
    for (const m of ['learned', 'lamp', 'checked']) sum[k][m] += res[m];
    sum[k].n++;
    console.log(`${k} seed ${seed}: learned ${(100 * res.learned).toFixed(2)} lamp ${(100 * res.lamp).toFixed(2)} checked ${(100 * res.checked).toFixed(2)} (picked ${res.pick})`);
  }
  cached.model.dispose(); if (fitted !== data) fitted.dispose();
}
for (const [k, v] of Object.entries(sum)) console.log(`${k} mean: learned ${(100 * v.learned / v.n).toFixed(2)} lamp ${(100 * v.lamp / v.n).toFixed(2)} checked ${(100 * v.checked / v.n).toFixed(2)}`);
