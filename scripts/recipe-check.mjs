#!/usr/bin/env node
// The MNIST page's "…@agent-epochs" baselines (global magnitude one-shot and gradual magnitude, 15 epochs = the agent's
// 945 optimizer steps, on the bench's cached dense models and seeds) fine-tuned two ways: as the page runs them (constant
// learning rate 1e-3, last weights) and with the agent's fine-tuning recipe (validation rounds of one epoch, the rate
// × 0.3 on a round without a new best, rounds within noise of the best as ties, the best round kept — AGENT_DEFAULTS.polish,
// as the small suite's baseline gets it). Shows how much of the agent-vs-baseline comparison is the recipe (docs/agent.md).
//   npm run build && node scripts/recipe-check.mjs [models] [seeds] [targets]   e.g. lenet-5,lenet-300-100 0,1,2 0.95,0.98
const { loadMnist10k } = await import('../dist/data/mnist.js');
const { trainedModel } = await import('../dist/models/cache.js');
const { fitDatasetToModel } = await import('../dist/models/task.js');
const { architecture } = await import('../dist/models/families.js');
const { cloneModel } = await import('../dist/models/io.js');
const { gradualPrune, oneShot } = await import('../dist/bench/one-shot.js');
const { createScorer } = await import('../dist/policy/baselines.js');
const { AGENT_DEFAULTS } = await import('../dist/agent/loop.js');
const { resolveBudget } = await import('../dist/agent/budget.js');
const models = (process.argv[2] ?? 'lenet-5').split(',');
const seeds = (process.argv[3] ?? '0,1,2').split(',').map(Number);
const targets = (process.argv[4] ?? '0.95,0.98').split(',').map(Number);
const EPOCHS = 15; // the agent's own on the page (945 optimizer steps at batch 128)
const data = loadMnist10k({ seed: 0 });
const sums = {};
for (const name of models) for (const target of targets) for (const seed of seeds) {
  const cached = await trainedModel({ args: { ...architecture(name), seed }, train: { epochs: 15, seed } }, data);
  const fitted = fitDatasetToModel(data, cached.model);
  const b = resolveBudget(fitted.train.labels.length, { budgetEpochs: EPOCHS });
  const recipe = { roundSteps: b.roundSteps, ...AGENT_DEFAULTS.polish };
  const out = {};
  for (const [method, run] of Object.entries({
    'one-shot': (m) => oneShot(m, fitted, createScorer('global-magnitude'), { target, fineTuneEpochs: EPOCHS, seed: 1000 + seed }),
    'one-shot + recipe': (m) => oneShot(m, fitted, createScorer('global-magnitude'), { target, seed: 1000 + seed, fineTune: { steps: b.budgetSteps, batchSize: b.batchSize, roundSteps: b.roundSteps, val: true, ...AGENT_DEFAULTS.polish } }),
    gradual: (m) => gradualPrune(m, fitted, createScorer('global-magnitude'), { target, fineTuneEpochs: EPOCHS, seed: 1000 + seed }),
    'gradual + recipe': (m) => gradualPrune(m, fitted, createScorer('global-magnitude'), { target, fineTuneEpochs: EPOCHS, seed: 1000 + seed, recipe }),
  })) {
    const m = await cloneModel(cached.model);
    out[method] = (await run(m)).testAfter;
    m.dispose();
    const k = `${name} @${target} ${method}`;
    sums[k] = [...(sums[k] ?? []), out[method]];
  }
  console.log(`${name} seed ${seed} @${target}: ${Object.entries(out).map(([k, v]) => `${k} ${(100 * v).toFixed(2)}`).join(', ')}`);
  cached.model.dispose();
  if (fitted !== data) fitted.dispose();
}
for (const [k, v] of Object.entries(sums)) console.log(`${k}: mean ${(100 * v.reduce((a, x) => a + x, 0) / v.length).toFixed(2)} (${v.map((x) => (100 * x).toFixed(2)).join(' / ')})`);
