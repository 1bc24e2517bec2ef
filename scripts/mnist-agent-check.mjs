#!/usr/bin/env node
// The agent at the bench settings on MNIST-10k (dense 15 epochs, agent budget 15 epochs, --force as the bench),
// per model, seed and target: test accuracy vs dense. Quicker than `autoprune bench` when only the agent changed.
// With COMPARE=1 also gradual magnitude (Zhu & Gupta) and global magnitude one-shot given the agent's own epochs,
// on the same dense model and seed (the bench's `…@agent-epochs` methods).
// AGENT_OPTS (JSON) adds agent options, e.g. AGENT_OPTS={"magnitudeCheck":false}.
//   node scripts/mnist-agent-check.mjs [models] [seeds] [targets]   e.g. lenet-300-100,lenet-5 0,1,2 0.9,0.95
const { loadMnist10k } = await import('../dist/data/mnist.js');
const { trainedModel } = await import('../dist/models/cache.js');
const { fitDatasetToModel } = await import('../dist/models/task.js');
const { runAgent } = await import('../dist/agent/loop.js');
const { architecture } = await import('../dist/models/families.js');
const { accuracy } = await import('../dist/models/train.js');
const { cloneModel } = await import('../dist/models/io.js');
const { gradualPrune, oneShot } = await import('../dist/bench/one-shot.js');
const { createScorer } = await import('../dist/policy/baselines.js');
const models = (process.argv[2] ?? 'lenet-300-100').split(',');
const seeds = (process.argv[3] ?? '0').split(',').map(Number);
const targets = (process.argv[4] ?? '0.9,0.95').split(',').map(Number);
const compare = process.env.COMPARE === '1';
// SCORER: a policy or baseline name (default: policies/default.json); "X+Y" = X's order inside each layer with
// Y's allocation across layers (src/policy/allocated.ts), e.g. SCORER=default+lamp.
const { resolveScorer: resolveScorerSpec } = await import('../dist/policy/io.js');
const scorer = () => resolveScorerSpec(process.env.SCORER ?? 'default');
const data = loadMnist10k({ seed: 0 });
const pts = (a, b) => `${(100 * (a - b)).toFixed(2)}`;
for (const name of models) for (const seed of seeds) for (const target of targets) {
  const cached = await trainedModel({ args: { ...architecture(name), seed }, train: { epochs: 15, seed } }, data);
  const fitted = fitDatasetToModel(data, cached.model);
  const dense = accuracy(cached.model, fitted.test);
  const copy = compare ? await cloneModel(cached.model) : undefined;
  const t0 = Date.now();
  const r = await runAgent(cached.model, fitted, scorer(), { target, budgetEpochs: 15, seed, force: true, ...JSON.parse(process.env.AGENT_OPTS ?? '{}') });
  let line = `${name} seed ${seed} @${target}: dense ${(100*dense).toFixed(2)} → ${(100*r.testAccuracy).toFixed(2)} (${pts(r.testAccuracy, dense)}), sparsity ${r.sparsity.global.toFixed(3)}, ${r.stopReason}, ${r.totals.fineTuneEpochs} ep, ${((Date.now()-t0)/1000).toFixed(1)} s, criteria ${JSON.stringify(r.totals.criteria ?? {})}`;
  if (copy) {
    const epochs = r.totals.fineTuneEpochs;
    const snap = await cloneModel(copy);
    const g = await gradualPrune(copy, fitted, createScorer('global-magnitude'), { target, fineTuneEpochs: epochs, seed: 1000 + seed });
    const o = oneShot(snap, fitted, createScorer('global-magnitude'), { target, fineTuneEpochs: Math.round(epochs), seed: 1000 + seed });
    line += ` | gradual magnitude ${(100 * g.testAfter).toFixed(2)}, global magnitude one-shot ${(100 * o.testAfter).toFixed(2)} (${epochs} ep)`;
    copy.dispose(); snap.dispose();
  }
  console.log(line);
  r.masks.dispose(); cached.model.dispose(); if (fitted !== data) fitted.dispose();
}
