#!/usr/bin/env node
// How much fine-tuning alone (no pruning) moves a small-suite dense model: validation/test accuracy and
// validation loss before and after 100 optimizer steps at three learning rates, on the CLI's seed-0 split.
// The measurement behind the guard's fine-tuned control (docs/agent.md, "Guard").   node scripts/finetune-drift.mjs
const { loadModel } = await import('../dist/models/io.js');
const { loadDataset } = await import('../dist/data/registry.js');
const { fitDatasetToModel } = await import('../dist/models/task.js');
const { evaluate, train } = await import('../dist/models/train.js');
for (const c of ['penguins-sex', 'seattle-weather', 'cars-origin', 'gapminder-cluster']) {
  const out = [];
  for (const lr of [1e-3, 3e-4, 1e-4]) {
    const m = await loadModel(new URL(`../datasets/small/${c}/model`, import.meta.url).pathname);
    const d = loadDataset(new URL(`../datasets/small/${c}/data.csv`, import.meta.url).pathname, { seed: 0, standardize: false });
    const f = fitDatasetToModel(d, m);
    const e0 = evaluate(m, f.val), t0 = evaluate(m, f.test);
    train(m, f.train, { steps: 100, batchSize: c === 'seattle-weather' ? 32 : 16, learningRate: lr, seed: 1 });
    const e1 = evaluate(m, f.val), t1 = evaluate(m, f.test);
    out.push(`lr ${lr}: val ${(100*e0.accuracy).toFixed(1)}→${(100*e1.accuracy).toFixed(1)} loss ${e0.loss.toFixed(3)}→${e1.loss.toFixed(3)} test ${(100*t0.accuracy).toFixed(1)}→${(100*t1.accuracy).toFixed(1)}`);
  }
  console.log(c, '\n  ' + out.join('\n  '));
}
