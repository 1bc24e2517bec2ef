// Issue 13's open comparison with a teacher for every method (docs/agent.md, "Whole units removed"): the agent and
// gradual magnitude (Zhu & Gupta, 10 increments over 70 % of the steps, as the MNIST protocol runs it) at the same
// 15 epochs, each with and without distillation from the dense model (0.5, T = 4), on the protocol's cached dense
// LeNets (dense seed = run seed). Prints test accuracy per method, config and seed.
//   npm run build && node scripts/distill-protocol-check.mjs lenet-5 0.95 0,1,2
const { selectBackendAsync, tf } = await import('../dist/backend/tf.js');
await selectBackendAsync();
const { loadMnist10k } = await import('../dist/data/mnist.js');
const { runAgent } = await import('../dist/agent/loop.js');
const { gradualPrune } = await import('../dist/bench/one-shot.js');
const { trainedModel } = await import('../dist/models/cache.js');
const { architecture } = await import('../dist/models/families.js');
const { fitDatasetToModel } = await import('../dist/models/task.js');
const { accuracy } = await import('../dist/models/train.js');
const { loadPolicy } = await import('../dist/policy/io.js');
const { createScorer } = await import('../dist/policy/baselines.js');
const [name = 'lenet-5', targetS = '0.95', seedsS = '0,1,2'] = process.argv.slice(2);
const target = Number(targetS);
const EPOCHS = 15;
const DISTILL = { weight: 0.5, temperature: 4 };
const data = loadMnist10k({ seed: 0 });
const model0 = async (seed) => (await trainedModel({ args: { ...architecture(name), seed }, train: { epochs: 15, seed } }, data)).model;

const rows = {};
for (const seed of seedsS.split(',').map(Number)) {
  for (const [method, distill] of [['agent', false], ['agent', DISTILL], ['gradual', false], ['gradual', DISTILL]]) {
    const model = await model0(seed);
    const fitted = fitDatasetToModel(data, model);
    let test;
    if (method === 'agent') {
      const r = await runAgent(model, fitted, loadPolicy('default'), { target, maxDrop: 1, budgetEpochs: EPOCHS, seed, force: true, distill });
      r.masks.dispose();
      test = accuracy(model, fitted.test);
    } else test = (await gradualPrune(model, fitted, createScorer('global-magnitude'), { target, fineTuneEpochs: EPOCHS, seed, distill: distill || undefined })).testAfter;
    model.dispose();
    if (fitted !== data) fitted.dispose();
    const key = `${method}${distill ? ' + distill' : ''}`;
    (rows[key] ??= []).push(test);
    console.log(JSON.stringify({ method: key, seed, test, tensors: tf.memory().numTensors }));
  }
}
for (const [k, v] of Object.entries(rows)) console.log(`== ${k}: ${v.map((t) => (100 * t).toFixed(2)).join(' / ')} (mean ${(100 * v.reduce((a, b) => a + b, 0) / v.length).toFixed(2)})`);
data.dispose();
