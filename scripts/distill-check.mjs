// Distillation in the agent's fine-tunes (docs/agent.md, "Whole units removed"): the agent through the API on a
// cached MNIST-10k LeNet (seed-0 dense model, budget 30 epochs as in the structured benchmark), once per config and
// agent seed; prints test accuracy. Configs: 'off' or 'weight:temperature'.
//   npm run build && node scripts/distill-check.mjs lenet-300-100 0.9 0,1,2 off,0.5:4
//   G=unit OBJ=params node scripts/distill-check.mjs lenet-300-100 0.8 0,1 off,0.5:4
const { selectBackendAsync } = await import('../dist/backend/tf.js');
await selectBackendAsync();
const { loadMnist10k } = await import('../dist/data/mnist.js');
const { runAgent } = await import('../dist/agent/loop.js');
const { trainedModel } = await import('../dist/models/cache.js');
const { architecture } = await import('../dist/models/families.js');
const { fitDatasetToModel } = await import('../dist/models/task.js');
const { accuracy } = await import('../dist/models/train.js');
const { loadPolicy } = await import('../dist/policy/io.js');
const [name = 'lenet-300-100', target = '0.9', seeds = '0,1,2', configs = 'off,0.5:4'] = process.argv.slice(2);
const granularity = process.env.G ?? 'unit';
const objective = process.env.OBJ ?? 'flops';
const data = loadMnist10k({ seed: 0 });
for (const cfg of configs.split(',')) {
  const distill = cfg === 'off' ? false : { weight: Number(cfg.split(':')[0]), temperature: Number(cfg.split(':')[1]) };
  const accs = [];
  for (const seed of seeds.split(',').map(Number)) {
    const { model } = await trainedModel({ args: { ...architecture(name), seed: 0 }, train: { epochs: 15, seed: 0 } }, data);
    const fitted = fitDatasetToModel(data, model);
    const dense = accuracy(model, fitted.test);
    const t0 = Date.now();
    const r = await runAgent(model, fitted, loadPolicy('default'), { target: Number(target), maxDrop: 1, budgetEpochs: 30, seed, granularity, objective, distill });
    const test = accuracy(model, fitted.test);
    accs.push(test);
    console.log(JSON.stringify({ cfg, seed, dense, test, computeRemoved: r.compute.reduction, targetReached: r.targetReached, seconds: (Date.now() - t0) / 1000 }));
    r.masks.dispose();
    model.dispose();
    if (fitted !== data) fitted.dispose();
  }
  console.log(`== ${cfg}: mean test ${((100 * accs.reduce((a, b) => a + b, 0)) / accs.length).toFixed(2)} %`);
}
data.dispose();
