// Issue 13's open comparison with a teacher for every method (docs/agent.md, "Whole units removed"): the agent and
// gradual magnitude (Zhu & Gupta, 10 increments over 70 % of the steps, as the MNIST protocol runs it) at the same
// 15 epochs, each with and without distillation from the dense model (0.5, T = 4), on the protocol's cached dense
// LeNets (dense seed = run seed). Prints test accuracy per method, config and seed.
//   npm run build && node scripts/distill-protocol-check.mjs lenet-5 0.95 0,1,2
const { selectBackendAsync, tf } = await import('../dist/backend/tf.js');
await selectBackendAsync();
const { loadMnist10k } = await import('../dist/data/mnist.js');
const { runAgent, gradualLevels } = await import('../dist/agent/loop.js');
const { trainedModel } = await import('../dist/models/cache.js');
const { architecture } = await import('../dist/models/families.js');
const { fitDatasetToModel } = await import('../dist/models/task.js');
const { accuracy, trainAsync, teacherTargets } = await import('../dist/models/train.js');
const { loadPolicy } = await import('../dist/policy/io.js');
const { createScorer } = await import('../dist/policy/baselines.js');
const { PrunableModel } = await import('../dist/pruning/prunable-model.js');
const { extractFeatures } = await import('../dist/features/extract.js');
const { pruneByScores } = await import('../dist/pruning/select.js');
const { headOf, disposeSplit } = await import('../dist/data/dataset.js');
const [name = 'lenet-5', targetS = '0.95', seedsS = '0,1,2'] = process.argv.slice(2);
const target = Number(targetS);
const EPOCHS = 15;
const DISTILL = { weight: 0.5, temperature: 4 };
const data = loadMnist10k({ seed: 0 });
const model0 = async (seed) => (await trainedModel({ args: { ...architecture(name), seed }, train: { epochs: 15, seed } }, data)).model;

async function gradual(model, fitted, seed, distill) {
  const pm = new PrunableModel(model);
  const calib = headOf(fitted.train, 1024);
  const scorer = createScorer('global-magnitude');
  const teacher = distill ? teacherTargets(model, fitted.train.x, distill.temperature) : undefined;
  try {
    const steps = Math.round(EPOCHS * Math.ceil(fitted.train.labels.length / 128));
    const span = Math.floor(0.7 * steps);
    const levels = gradualLevels(0, target, 10);
    const pruneTo = (s) => { const f = extractFeatures(pm, calib); pruneByScores(pm, scorer.score(f), f, s); };
    const schedule = levels.map((s, j) => ({ at: Math.round((j * span) / (levels.length - 1)), run: () => pruneTo(s) }));
    await trainAsync(model, fitted.train, { steps, batchSize: 128, prunable: pm, seed, schedule, ...(teacher ? { softTargets: { probs: teacher, weight: distill.weight } } : {}) });
    return accuracy(model, fitted.test);
  } finally {
    teacher?.dispose();
    disposeSplit(calib);
    pm.dispose();
  }
}

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
    } else test = await gradual(model, fitted, seed, distill);
    model.dispose();
    if (fitted !== data) fitted.dispose();
    const key = `${method}${distill ? ' + distill' : ''}`;
    (rows[key] ??= []).push(test);
    console.log(JSON.stringify({ method: key, seed, test, tensors: tf.memory().numTensors }));
  }
}
for (const [k, v] of Object.entries(rows)) console.log(`== ${k}: ${v.map((t) => (100 * t).toFixed(2)).join(' / ')} (mean ${(100 * v.reduce((a, b) => a + b, 0) / v.length).toFixed(2)})`);
data.dispose();
